import { describe, expect, it } from 'vitest';
import { Box3, Mesh } from 'three';
import { parseModel } from '../src/viewer';

/** A binary glTF of one triangle, as the worker writes it: positions in metres, u32 indices. */
function glb(points: number[][]): ArrayBuffer {
  const positions = new Float32Array(points.flat());
  const indices = new Uint32Array(points.map((_, i) => i));
  const json = {
    asset: { version: '2.0' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0, name: 'plate' }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, indices: 1, mode: 4 }] }],
    buffers: [{ byteLength: positions.byteLength + indices.byteLength }],
    bufferViews: [
      { buffer: 0, byteOffset: 0, byteLength: positions.byteLength },
      { buffer: 0, byteOffset: positions.byteLength, byteLength: indices.byteLength },
    ],
    accessors: [
      { bufferView: 0, componentType: 5126, count: points.length, type: 'VEC3', min: [0, 0, 0], max: [0.04, 0.02, 0.01] },
      { bufferView: 1, componentType: 5125, count: points.length, type: 'SCALAR' },
    ],
  };
  let text = new TextEncoder().encode(JSON.stringify(json));
  const padded = new Uint8Array(Math.ceil(text.length / 4) * 4).fill(0x20);
  padded.set(text);
  text = padded;
  const bin = new Uint8Array(positions.byteLength + indices.byteLength);
  bin.set(new Uint8Array(positions.buffer), 0);
  bin.set(new Uint8Array(indices.buffer), positions.byteLength);
  const total = 12 + 8 + text.length + 8 + bin.length;
  const out = new DataView(new ArrayBuffer(total));
  out.setUint32(0, 0x46546c67, true); // glTF
  out.setUint32(4, 2, true);
  out.setUint32(8, total, true);
  out.setUint32(12, text.length, true);
  out.setUint32(16, 0x4e4f534a, true); // JSON
  new Uint8Array(out.buffer).set(text, 20);
  out.setUint32(20 + text.length, bin.length, true);
  out.setUint32(24 + text.length, 0x004e4942, true); // BIN
  new Uint8Array(out.buffer).set(bin, 28 + text.length);
  return out.buffer;
}

describe('viewer', () => {
  it('reads a GLB in metres as millimetres, one normal per facet', async () => {
    const model = await parseModel('GLB', glb([[0, 0, 0], [0.04, 0, 0], [0.04, 0.02, 0.01]]));
    const size = new Box3().setFromObject(model).getSize(model.position.clone());
    expect(size.x).toBeCloseTo(40, 3);
    expect(size.y).toBeCloseTo(20, 3);
    expect(size.z).toBeCloseTo(10, 3);
    const meshes: Mesh[] = [];
    model.traverse((o) => {
      if ((o as Mesh).isMesh) meshes.push(o as Mesh);
    });
    expect(meshes).toHaveLength(1);
    expect(meshes[0].geometry.index).toBeNull();
    expect(meshes[0].geometry.getAttribute('normal').count).toBe(3);
  });
});
