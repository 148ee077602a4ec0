// chat.v1 under the `chat.v1+json` subprotocol (docs/protocol.md §2.1, Appendix A): the frames as they travel (`Wire*`,
// protobuf's JSON mapping: 64-bit integers as decimal strings, default values omitted) and the values the client hands
// to the application (defaults filled in, 64-bit integers as numbers).

/** The WebSocket subprotocol this client speaks: one JSON `ClientFrame`/`ServerFrame` per text message. */
export const SUBPROTOCOL = 'chat.v1+json';

/** Query parameter carrying the token: browsers cannot set an `Authorization` header on a WebSocket (§2.2). */
export const TOKEN_PARAMETER = 'access_token';

/** Query parameter carrying the ring epoch of the redirect being followed (§5.4). */
export const EPOCH_PARAMETER = 'ring_epoch';

/** The most delivery ids one `ack` carries: below the node's `Node:MaxAckBatch` of 1,000 (§9), like the reference client. */
export const MAX_ACK_BATCH = 500;

/** `ErrorCode` names (§8). A node of a newer protocol version may send a code this list does not name yet. */
export type ErrorCode =
  | 'ERROR_CODE_UNSPECIFIED'
  | 'BAD_REQUEST'
  | 'UNKNOWN_COMMAND'
  | 'NOT_FOUND'
  | 'NOT_PARTICIPANT'
  | 'FORBIDDEN'
  | 'TOO_MANY_PARTICIPANTS'
  | 'TOO_MANY_CLIENTS'
  | 'RATE_LIMITED'
  | 'TOO_LARGE'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'STORE_FULL'
  | 'QUOTA_EXCEEDED'
  | 'TOO_MANY_CHATS';

/** What changed in a chat (§5.2). */
export type ChatUpdateKind = 'CHAT_UPDATE_KIND_UNSPECIFIED' | 'CREATED' | 'PARTICIPANT_ADDED' | 'PARTICIPANT_REMOVED';

/** `modifyChatParticipants` actions (§4.3). */
export type ParticipantAction = 'ADD' | 'REMOVE';

/** A chat (§4.1). `version` counts membership changes: 1 after creation, +1 per effective change. */
export interface Chat {
  readonly chatId: string;
  /** Empty when the chat has no name. */
  readonly name: string;
  readonly createdBy: string;
  /** A set: in results in ordinal order, in pushes in no specified order. */
  readonly participants: readonly string[];
  readonly version: number;
  readonly createdAtUnixMs: number;
}

/** An attachment's metadata as granted at upload (§4.9): its bytes live in the media store. */
export interface Attachment {
  readonly attachmentId: string;
  readonly contentType: string;
  /** Exact length in bytes. */
  readonly size: number;
  /** Lowercase hex SHA-256 of the bytes, as the uploader declared it. */
  readonly sha256: string;
}

/** A message pushed to this client (§5.1). A chat's messages are ordered by `seq`, which need not be contiguous. */
export interface NewMessage {
  readonly deliveryId: string;
  readonly chatId: string;
  readonly messageId: string;
  readonly seq: number;
  readonly senderUserId: string;
  readonly senderClientId: string;
  /** Empty when the message carries only attachments. */
  readonly text: string;
  readonly attachments: readonly Attachment[];
  readonly sentAtUnixMs: number;
}

/** A change of a chat this client's user is in, or was just removed from (§5.2). */
export interface ChatUpdate {
  readonly deliveryId: string;
  /** The chat right after the change; `chat.version` is the version in the delivery id. */
  readonly chat: Chat;
  readonly kind: ChatUpdateKind;
  readonly actorUserId: string;
  /** The user added or removed; empty for `CREATED`. */
  readonly targetUserId: string;
  readonly updatedAtUnixMs: number;
}

/** The first frame of every accepted connection (§2.5). */
export interface Welcome {
  readonly userId: string;
  readonly clientId: string;
  /** The node that accepted the connection: the user's owner. */
  readonly nodeId: string;
  /** The largest frame the node accepts from this client, in bytes. */
  readonly maxFrameBytes: number;
}

/** Where the user's connection belongs (§5.4); the connection closes with 4000 after it. */
export interface Redirect {
  readonly url: string;
  readonly nodeId: string;
  readonly epoch: number;
}

/** The answer to a `sendMessage` (§4.2): the message is stored once, in every recipient client's inbox. */
export interface SendMessageResult {
  readonly messageId: string;
  readonly seq: number;
  readonly sentAtUnixMs: number;
  /** True when this answers a retry of a message already stored (the original's ids). */
  readonly duplicate: boolean;
}

/** One page of `listChats` (§4.4). */
export interface ChatPage {
  readonly chats: readonly Chat[];
  /** The cursor of the following page; empty on the last page. Opaque. */
  readonly next: string;
}

/** One registered client of the calling user (§4.8). */
export interface ClientInfo {
  readonly clientId: string;
  readonly registeredAtUnixMs: number;
}

/** A presigned URL to PUT one attachment's bytes to (§4.9). A bearer credential: never log it. */
export interface AttachmentUploadGrant {
  readonly attachmentId: string;
  readonly uploadUrl: string;
  readonly expiresAtUnixMs: number;
}

/** A presigned URL to GET one attachment's bytes from (§4.10). A bearer credential: never log it. */
export interface AttachmentDownloadGrant {
  readonly downloadUrl: string;
  readonly expiresAtUnixMs: number;
  readonly attachment: Attachment;
}

// The wire shapes. Int64 fields arrive as strings; numbers are accepted too, as the JSON mapping allows.
type Int64 = string | number;

export interface WireChat {
  chatId?: string;
  name?: string;
  createdBy?: string;
  participants?: string[];
  version?: Int64;
  createdAtUnixMs?: Int64;
}

export interface WireAttachment {
  attachmentId?: string;
  contentType?: string;
  size?: Int64;
  sha256?: string;
}

export interface WireError {
  code?: ErrorCode;
  message?: string;
  outcomeUnknown?: boolean;
}

export interface WireNewMessage {
  deliveryId?: string;
  chatId?: string;
  messageId?: string;
  seq?: Int64;
  senderUserId?: string;
  senderClientId?: string;
  text?: string;
  attachments?: WireAttachment[];
  sentAtUnixMs?: Int64;
}

export interface WireChatUpdate {
  deliveryId?: string;
  chat?: WireChat;
  kind?: ChatUpdateKind;
  actorUserId?: string;
  targetUserId?: string;
  updatedAtUnixMs?: Int64;
}

export interface WireWelcome {
  userId?: string;
  clientId?: string;
  nodeId?: string;
  maxFrameBytes?: number;
}

export interface WireRedirect {
  url?: string;
  nodeId?: string;
  epoch?: Int64;
}

/** Each command's body, by its `ClientFrame` field name. */
export interface WireCommands {
  createChat: { participants: readonly string[]; name?: string };
  sendMessage: { chatId: string; clientMessageId: string; text?: string; attachments?: readonly { attachmentId: string }[] };
  modifyChatParticipants: { chatId: string; userId: string; action: ParticipantAction };
  listChats: { limit?: number; after?: string };
  ack: { deliveryIds: readonly string[]; quiet?: boolean };
  ping: Record<string, never>;
  deactivateClient: { clientId: string };
  listClients: Record<string, never>;
  getAttachmentUpload: { contentType: string; size: string; sha256: string };
  getAttachmentDownload: { attachmentId: string };
}

/** Each command's result body, by the command's field name. */
export interface WireResults {
  createChat: { chat?: WireChat };
  sendMessage: { messageId?: string; seq?: Int64; sentAtUnixMs?: Int64; duplicate?: boolean };
  modifyChatParticipants: { chat?: WireChat };
  listChats: { chats?: WireChat[]; next?: string };
  ack: { acknowledged?: number };
  ping: { serverTimeUnixMs?: Int64 };
  deactivateClient: Record<string, never>;
  listClients: { clients?: { clientId?: string; registeredAtUnixMs?: Int64 }[] };
  getAttachmentUpload: { attachmentId?: string; uploadUrl?: string; expiresAtUnixMs?: Int64 };
  getAttachmentDownload: { downloadUrl?: string; expiresAtUnixMs?: Int64; attachment?: WireAttachment };
}

export type CommandName = keyof WireCommands;

/** The `ServerFrame` field that carries each command's result. */
export const RESULT_FIELDS = {
  createChat: 'createChatResult',
  sendMessage: 'sendMessageResult',
  modifyChatParticipants: 'modifyChatParticipantsResult',
  listChats: 'listChatsResult',
  ack: 'ackResult',
  ping: 'pong',
  deactivateClient: 'deactivateClientResult',
  listClients: 'listClientsResult',
  getAttachmentUpload: 'getAttachmentUploadResult',
  getAttachmentDownload: 'getAttachmentDownloadResult',
} as const satisfies Record<CommandName, string>;

/** A `ServerFrame`: a result or error (request id set) or a push (request id absent). Unknown members are ignored. */
export interface WireServerFrame {
  requestId?: Int64;
  error?: WireError;
  welcome?: WireWelcome;
  newMessage?: WireNewMessage;
  chatUpdate?: WireChatUpdate;
  redirect?: WireRedirect;
  inboxReplayed?: { count?: number };
  [member: string]: unknown;
}

/** The JSON text of a `ClientFrame` carrying one command. */
export function encodeRequest<C extends CommandName>(requestId: number, command: C, body: WireCommands[C]): string {
  return JSON.stringify({ requestId: String(requestId), [command]: body });
}

/** Parses one text message into a `ServerFrame`; undefined when it is not a JSON object. */
export function parseServerFrame(text: string): WireServerFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }

  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as WireServerFrame) : undefined;
}

/** A frame's request id as a number; 0 for pushes. */
export function requestIdOf(frame: WireServerFrame): number {
  return toNumber(frame.requestId);
}

function toNumber(value: Int64 | undefined): number {
  return value === undefined ? 0 : Number(value);
}

export function decodeChat(chat: WireChat | undefined): Chat {
  return {
    chatId: chat?.chatId ?? '',
    name: chat?.name ?? '',
    createdBy: chat?.createdBy ?? '',
    participants: chat?.participants ?? [],
    version: toNumber(chat?.version),
    createdAtUnixMs: toNumber(chat?.createdAtUnixMs),
  };
}

export function decodeAttachment(attachment: WireAttachment | undefined): Attachment {
  return {
    attachmentId: attachment?.attachmentId ?? '',
    contentType: attachment?.contentType ?? '',
    size: toNumber(attachment?.size),
    sha256: attachment?.sha256 ?? '',
  };
}

export function decodeNewMessage(message: WireNewMessage): NewMessage {
  return {
    deliveryId: message.deliveryId ?? '',
    chatId: message.chatId ?? '',
    messageId: message.messageId ?? '',
    seq: toNumber(message.seq),
    senderUserId: message.senderUserId ?? '',
    senderClientId: message.senderClientId ?? '',
    text: message.text ?? '',
    attachments: (message.attachments ?? []).map(decodeAttachment),
    sentAtUnixMs: toNumber(message.sentAtUnixMs),
  };
}

export function decodeChatUpdate(update: WireChatUpdate): ChatUpdate {
  return {
    deliveryId: update.deliveryId ?? '',
    chat: decodeChat(update.chat),
    kind: update.kind ?? 'CHAT_UPDATE_KIND_UNSPECIFIED',
    actorUserId: update.actorUserId ?? '',
    targetUserId: update.targetUserId ?? '',
    updatedAtUnixMs: toNumber(update.updatedAtUnixMs),
  };
}

export function decodeWelcome(welcome: WireWelcome): Welcome {
  return {
    userId: welcome.userId ?? '',
    clientId: welcome.clientId ?? '',
    nodeId: welcome.nodeId ?? '',
    maxFrameBytes: welcome.maxFrameBytes ?? 0,
  };
}

export function decodeRedirect(redirect: WireRedirect): Redirect {
  return { url: redirect.url ?? '', nodeId: redirect.nodeId ?? '', epoch: toNumber(redirect.epoch) };
}

export function decodeSendMessageResult(result: WireResults['sendMessage']): SendMessageResult {
  return {
    messageId: result.messageId ?? '',
    seq: toNumber(result.seq),
    sentAtUnixMs: toNumber(result.sentAtUnixMs),
    duplicate: result.duplicate ?? false,
  };
}

export function decodeChatPage(result: WireResults['listChats']): ChatPage {
  return { chats: (result.chats ?? []).map(decodeChat), next: result.next ?? '' };
}

export function decodeClients(result: WireResults['listClients']): ClientInfo[] {
  return (result.clients ?? []).map((client) => ({
    clientId: client.clientId ?? '',
    registeredAtUnixMs: toNumber(client.registeredAtUnixMs),
  }));
}

export function decodeUploadGrant(result: WireResults['getAttachmentUpload']): AttachmentUploadGrant {
  return {
    attachmentId: result.attachmentId ?? '',
    uploadUrl: result.uploadUrl ?? '',
    expiresAtUnixMs: toNumber(result.expiresAtUnixMs),
  };
}

export function decodeDownloadGrant(result: WireResults['getAttachmentDownload']): AttachmentDownloadGrant {
  return {
    downloadUrl: result.downloadUrl ?? '',
    expiresAtUnixMs: toNumber(result.expiresAtUnixMs),
    attachment: decodeAttachment(result.attachment),
  };
}

export function decodePong(result: WireResults['ping']): number {
  return toNumber(result.serverTimeUnixMs);
}
