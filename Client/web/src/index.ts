// @chatnode/client: a client of the chatnode chat.v1 WebSocket protocol (docs/protocol.md) for browsers and Node.
export { ChatClient } from './client.js';
export type { ChatClientEvents, ChatClientStats, ListChatsOptions, SendOptions } from './client.js';
export type { CloseInfo } from './connection.js';
export type { ConnectionEvent } from './connector.js';
export { SeqDedupe } from './dedupe.js';
export type { DedupeKey, DedupeKind, MessageDedupe, SeenNumbers } from './dedupe.js';
export type { Listener } from './emitter.js';
export { AttachmentIntegrityError, ChatConnectionError, ChatError, isTerminalCloseCode, MediaStoreError } from './errors.js';
export type { ChatConnectionErrorOptions } from './errors.js';
export { sha256Hex } from './media.js';
export type { ChatClientOptions, TokenRequest } from './options.js';
export { MemorySendOutbox, SendOutcomeUnknownError } from './outbox.js';
export type { PendingSend, SendOutbox, SettledSend } from './outbox.js';
export { SUBPROTOCOL } from './protocol.js';
export type {
  Attachment,
  AttachmentDownloadGrant,
  AttachmentUploadGrant,
  Chat,
  ChatPage,
  ChatUpdate,
  ChatUpdateKind,
  ClientInfo,
  ErrorCode,
  NewMessage,
  ParticipantAction,
  Redirect,
  SendMessageResult,
  Welcome,
} from './protocol.js';
