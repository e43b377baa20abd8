// @vitest-environment node
// The generated API types follow the checked-in OpenAPI document: this fails
// when docs/openapi.json changed and `npm run gen:api` was not run (the
// gateway's `cargo test -p gateway --test openapi` checks the document itself).
import { expect, it } from 'vitest';
import { drift } from '../scripts/gen-api.mjs';

it('src/generated/api.ts is what docs/openapi.json generates', async () => {
  expect(await drift()).toBeNull();
});
