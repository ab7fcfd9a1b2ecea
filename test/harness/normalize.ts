import type { Resource } from '@medplum/fhirtypes';

/**
 * A resource as a comparison across projects sees it: without server-assigned id and meta
 * (tags kept), and with the project's own ids replaced by stable names.
 */
export function comparable(resource: Resource | undefined, names: Record<string, string> = {}): unknown {
  if (!resource) {
    return undefined;
  }
  const { id: _id, meta, ...rest } = resource;
  let text = JSON.stringify({ ...rest, ...(meta?.tag && { tag: meta.tag }) });
  for (const [id, name] of Object.entries(names)) {
    text = text.split(id).join(name);
  }
  return JSON.parse(text);
}
