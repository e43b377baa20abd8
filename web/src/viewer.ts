// The interactive 3D view of a model: three.js with OrbitControls (drag to
// rotate, wheel or pinch to zoom, right-drag to pan), a "fit to view" that
// frames the part, and buttons for the same from the keyboard. Models are in
// millimetres with Z up, as FreeCAD exports them; the GLB's positions are in
// metres (glTF's unit) on the same axes, so it is scaled by 1000.

import {
  AmbientLight,
  Box3,
  BufferGeometry,
  Color,
  DirectionalLight,
  GridHelper,
  Group,
  HemisphereLight,
  Mesh,
  MeshStandardMaterial,
  Object3D,
  PerspectiveCamera,
  Scene,
  Sphere,
  Spherical,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { STLLoader } from 'three/examples/jsm/loaders/STLLoader.js';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';

/** Whether this browser can draw WebGL at all (checked without three.js, which logs errors). */
export function webglAvailable(): boolean {
  try {
    const canvas = document.createElement('canvas');
    return !!(canvas.getContext('webgl2') ?? canvas.getContext('webgl'));
  } catch {
    return false;
  }
}

export type ModelKind = 'GLB' | 'STL' | 'OBJ';

/** Millimetres per glTF unit (metres). */
const GLB_SCALE = 1000;

/** Parses model bytes into something to draw, in millimetres. */
export async function parseModel(kind: ModelKind, data: ArrayBuffer): Promise<Object3D> {
  const material = new MeshStandardMaterial({ color: 0x4f7cac, metalness: 0.15, roughness: 0.55 });
  if (kind === 'GLB') {
    const gltf = await new GLTFLoader().parseAsync(data, '');
    const model = gltf.scene;
    model.scale.setScalar(GLB_SCALE);
    model.traverse((o) => {
      const mesh = o as Mesh;
      if (!mesh.isMesh) return;
      // The mesh shares corners between faces; unshared, each facet gets
      // its own normal, so flat faces stay flat and edges stay sharp.
      const geometry = mesh.geometry.index ? mesh.geometry.toNonIndexed() : mesh.geometry;
      geometry.computeVertexNormals();
      if (geometry !== mesh.geometry) mesh.geometry.dispose();
      mesh.geometry = geometry;
      (Array.isArray(mesh.material) ? mesh.material : [mesh.material]).forEach((m) => m.dispose());
      mesh.material = material;
    });
    model.updateMatrixWorld(true);
    return model;
  }
  if (kind === 'STL') {
    const geometry: BufferGeometry = new STLLoader().parse(data);
    geometry.computeVertexNormals();
    return new Mesh(geometry, material);
  }
  const text = new TextDecoder().decode(data);
  const group = new OBJLoader().parse(text);
  group.traverse((o) => {
    if ((o as Mesh).isMesh) {
      const mesh = o as Mesh;
      mesh.geometry.computeVertexNormals();
      mesh.material = material;
    }
  });
  return group;
}

export class ModelViewer {
  readonly canvas: HTMLCanvasElement;
  private readonly renderer: WebGLRenderer;
  private readonly scene = new Scene();
  private readonly camera = new PerspectiveCamera(40, 1, 0.1, 100000);
  private readonly controls: OrbitControls;
  private readonly holder = new Group();
  private readonly grid: GridHelper;
  private model: Object3D | null = null;
  private readonly resize: ResizeObserver;
  private frame = 0;
  private dirty = true;
  private disposed = false;

  constructor(private readonly host: HTMLElement) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'viewer-canvas';
    this.canvas.setAttribute('aria-label', '3D view of the model: drag to rotate, scroll to zoom');
    this.canvas.setAttribute('role', 'img');
    this.canvas.tabIndex = 0;
    host.appendChild(this.canvas);

    this.renderer = new WebGLRenderer({ canvas: this.canvas, antialias: true, alpha: false });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene.background = new Color(0xeef2f6);

    this.camera.up.set(0, 0, 1);
    this.camera.position.set(120, -160, 110);

    this.scene.add(new HemisphereLight(0xffffff, 0x8090a0, 1.6));
    this.scene.add(new AmbientLight(0xffffff, 0.35));
    const key = new DirectionalLight(0xffffff, 1.6);
    key.position.set(1, -1.5, 2);
    this.scene.add(key);
    const fill = new DirectionalLight(0xffffff, 0.6);
    fill.position.set(-2, 1, -0.5);
    this.scene.add(fill);

    this.grid = new GridHelper(200, 20, 0xb4bfcc, 0xd5dde6);
    this.grid.rotation.x = Math.PI / 2;
    this.scene.add(this.grid);
    this.scene.add(this.holder);

    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.listenToKeyEvents(this.canvas);
    this.controls.addEventListener('change', () => this.invalidate());

    this.resize = new ResizeObserver(() => this.fitCanvas());
    this.resize.observe(host);
    this.fitCanvas();
    this.loop();
  }

  private fitCanvas(): void {
    const w = Math.max(1, this.host.clientWidth);
    const h = Math.max(1, this.host.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.invalidate();
  }

  private loop = () => {
    if (this.disposed) return;
    this.frame = requestAnimationFrame(this.loop);
    const moved = this.controls.update();
    if (moved || this.dirty) {
      this.dirty = false;
      this.renderer.render(this.scene, this.camera);
    }
  };

  invalidate(): void {
    this.dirty = true;
  }

  /** Shows `object` (replacing the previous model), centred on the grid, framed. */
  show(object: Object3D): void {
    this.clear();
    const box = new Box3().setFromObject(object);
    const center = box.getCenter(new Vector3());
    // Rest the part on the grid, centred in X and Y.
    object.position.sub(new Vector3(center.x, center.y, box.min.z));
    this.holder.add(object);
    this.model = object;
    const size = box.getSize(new Vector3());
    const span = Math.max(size.x, size.y, 1);
    const step = 10 ** Math.floor(Math.log10(span));
    const extent = Math.ceil((span * 1.6) / step) * step;
    this.grid.scale.setScalar(extent / 200);
    this.fit();
  }

  clear(): void {
    if (!this.model) return;
    this.holder.remove(this.model);
    this.model.traverse((o) => {
      const mesh = o as Mesh;
      if (mesh.isMesh) {
        mesh.geometry.dispose();
        const m = mesh.material;
        (Array.isArray(m) ? m : [m]).forEach((x) => x.dispose());
      }
    });
    this.model = null;
    this.invalidate();
  }

  /** Frames the whole part from the current viewing direction. */
  fit(): void {
    const target = this.model ?? this.grid;
    const sphere = new Box3().setFromObject(target).getBoundingSphere(new Sphere());
    const radius = Math.max(sphere.radius, 1);
    const fov = (this.camera.fov * Math.PI) / 180;
    const aspectFov = 2 * Math.atan(Math.tan(fov / 2) * Math.min(1, this.camera.aspect));
    const distance = (radius / Math.sin(aspectFov / 2)) * 1.1;
    let dir = this.camera.position.clone().sub(this.controls.target);
    if (dir.lengthSq() < 1e-9) dir = new Vector3(0.6, -0.8, 0.55);
    dir.normalize();
    this.controls.target.copy(sphere.center);
    this.camera.position.copy(sphere.center).addScaledVector(dir, distance);
    this.camera.near = Math.max(distance / 1000, 0.01);
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    this.controls.update();
    this.invalidate();
  }

  /** Turns the view around the vertical axis by `degrees`. */
  rotate(degrees: number): void {
    const offset = this.camera.position.clone().sub(this.controls.target);
    // Orbit about Z (up): rotate the offset in the XY plane.
    const s = new Spherical().setFromVector3(new Vector3(offset.x, offset.z, -offset.y));
    s.theta += (degrees * Math.PI) / 180;
    const v = new Vector3().setFromSpherical(s);
    this.camera.position.copy(this.controls.target).add(new Vector3(v.x, -v.z, v.y));
    this.controls.update();
    this.invalidate();
  }

  /** Moves the camera closer (factor < 1) or further (factor > 1). */
  zoom(factor: number): void {
    const offset = this.camera.position.clone().sub(this.controls.target).multiplyScalar(factor);
    this.camera.position.copy(this.controls.target).add(offset);
    this.controls.update();
    this.invalidate();
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.clear();
    this.controls.dispose();
    this.renderer.dispose();
    this.canvas.remove();
  }
}
