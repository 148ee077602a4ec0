// Attachment bytes travel between the client and the media store directly, over presigned URLs the node grants
// (docs/protocol.md §4.11). The URLs are bearer credentials: they appear in no error message.
import { MediaStoreError } from './errors.js';

/** The lowercase hex SHA-256 of `bytes`, with WebCrypto. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', ownBuffer(bytes)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** PUTs `bytes` to a presigned upload URL with their content type (§4.9). Throws {@link MediaStoreError} unless 2xx. */
export async function putObject(uploadUrl: string, bytes: Uint8Array, contentType: string, attachmentId: string, signal?: AbortSignal): Promise<void> {
  const response = await fetch(uploadUrl, {
    method: 'PUT',
    headers: { 'Content-Type': contentType },
    body: ownBuffer(bytes),
    ...(signal === undefined ? {} : { signal }),
  });
  // Read the (short) answer to the end so the HTTP connection can be reused.
  await response.arrayBuffer();
  if (!response.ok) {
    throw new MediaStoreError('upload', response.status, attachmentId);
  }
}

/** GETs the bytes behind a presigned download URL (§4.10). Throws {@link MediaStoreError} unless 2xx. */
export async function getObject(downloadUrl: string, attachmentId: string, signal?: AbortSignal): Promise<Uint8Array> {
  const response = await fetch(downloadUrl, signal === undefined ? {} : { signal });
  const body = new Uint8Array(await response.arrayBuffer());
  if (!response.ok) {
    throw new MediaStoreError('download', response.status, attachmentId);
  }

  return body;
}

// WebCrypto and fetch take views of an ArrayBuffer, not of a SharedArrayBuffer: copy only when needed.
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
