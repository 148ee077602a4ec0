import type { CloseInfo, Connection } from './connection.js';
import { Connector, parseNodeUrl, type ConnectionEvent, type Established } from './connector.js';
import { SeqDedupe, type DedupeKey, type MessageDedupe } from './dedupe.js';
import { TypedEmitter } from './emitter.js';
import { AttachmentIntegrityError, ChatConnectionError, ChatError, isTerminalCloseCode } from './errors.js';
import { getObject, putObject, sha256Hex } from './media.js';
import { resolveOptions, type ChatClientOptions, type ResolvedOptions } from './options.js';
import { MemorySendOutbox, OutboxSender, type PendingSend, type SettledSend } from './outbox.js';
import {
  decodeChat,
  decodeChatPage,
  decodeChatUpdate,
  decodeClients,
  decodeDownloadGrant,
  decodeNewMessage,
  decodePong,
  decodeRedirect,
  decodeSendMessageResult,
  decodeUploadGrant,
  MAX_ACK_BATCH,
  type Attachment,
  type AttachmentDownloadGrant,
  type AttachmentUploadGrant,
  type Chat,
  type ChatPage,
  type ChatUpdate,
  type ClientInfo,
  type CommandName,
  type NewMessage,
  type ParticipantAction,
  type Redirect,
  type SendMessageResult,
  type Welcome,
  type WireCommands,
  type WireResults,
  type WireServerFrame,
} from './protocol.js';
import { RequestTracker } from './requests.js';
import { Deferred, backoffDelay, jitter, sleep, within } from './timing.js';

/** The events a {@link ChatClient} emits, by name. */
export interface ChatClientEvents {
  /**
   * A message for this client, handed over once (per the client's dedupe) however often the node pushes it. Messages
   * come in arrival order: a replay sends each chat's items in `seq` order, live pushes may overtake each other, and
   * seqs need not be contiguous; display a chat's messages ordered by `seq` (§6.5).
   */
  readonly message: NewMessage;
  /** A change of a chat this client's user is in, or was removed from; handed over once, like messages. */
  readonly chatUpdate: ChatUpdate;
  /** The connection's state changed. */
  readonly connection: ConnectionEvent;
  /** The current connection's inbox replay ended: everything stored before it was accepted has been pushed (§6.4). */
  readonly inboxReplayed: { readonly count: number };
  /** A send that `sendMessage` left pending (outcome unknown) settled in the background. */
  readonly sendSettled: SettledSend;
  /** An `error` frame that answered no request (for example `TOO_MANY_CLIENTS` before close 4104). */
  readonly connectionError: ChatError;
}

/** Counters since the client was created. */
export interface ChatClientStats {
  /** `newMessage` and `chatUpdate` pushes received, repeats included. */
  readonly pushes: number;
  /** Pushes dropped because the item had been handed over already. */
  readonly duplicates: number;
  /** Connections a node welcomed. */
  readonly connections: number;
  /** Redirects followed, at connects and handoffs. */
  readonly redirects: number;
}

/** Options of {@link ChatClient.sendMessage}. */
export interface SendOptions {
  /** Attachments returned by {@link ChatClient.uploadAttachment}. */
  readonly attachments?: readonly Attachment[];
  /** The id of this message, when the app mints it (for example to resend a message from its own outbox). */
  readonly clientMessageId?: string;
  /** Stops retrying; the send stays in the outbox if an attempt may have stored it. */
  readonly signal?: AbortSignal;
}

/** Options of {@link ChatClient.listChats}. */
export interface ListChatsOptions {
  /** Chats per request, 1 to 100. Default 100. */
  readonly pageSize?: number;
}

type ClientState = 'new' | 'connecting' | 'running' | 'stopping' | 'stopped';

const TOKEN_EXPIRED = 4004;
const ACK_FLUSH_TIMEOUT_MS = 2_000;
// A user is in at most 1,000 chats (§9); a cursor chain longer than this is a node bug, not a user's chats.
const MAX_LIST_PAGES = 10_000;
const CLIENT_CLOSED: CloseInfo = { code: 1000, reason: 'client closed' };

/**
 * A client of chat.v1 over `chat.v1+json`, for browsers and Node (global `WebSocket`, `fetch`, `crypto.subtle`), after
 * the reference client (docs/protocol.md §10). It keeps one connection to the node that owns its user: it follows
 * redirects (with their ring epoch), tries its seeds in turn, and reconnects with jittered exponential backoff after
 * any close it did not start (a lost connection, 1000, 4000-4099; a handoff redirect at once), stopping on a terminal
 * code (4100-4199). It fetches a new token for every connect (flagged `expired` after 4004). It retries sends
 * with the same client message id, so a retry never stores a message twice; hands each message and chat update to the
 * listeners once; and acknowledges them in batches.
 *
 * Add listeners with {@link on} before {@link connect}: the inbox replay starts as soon as a node welcomes the client.
 * Listeners run synchronously; a push is acknowledged after they returned.
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly connector: Connector;
  private readonly dedupe: MessageDedupe;
  private readonly sender: OutboxSender;
  private readonly requests: RequestTracker;
  private readonly stopController = new AbortController();
  private readonly stopped = new Deferred<CloseInfo>();
  private readonly counters = { pushes: 0, duplicates: 0, connections: 0, redirects: 0 };
  private readonly acks: string[] = [];
  private state: ClientState = 'new';
  private connection: Connection | undefined;
  private currentWelcome: Welcome | undefined;
  private connected = new Deferred<void>();
  private replayed = new Deferred<number>();
  // A redirect pushed on the current connection: followed at once when the connection ends (a handoff, §5.4).
  private redirect: Redirect | undefined;
  private tokenExpired = false;
  private ackDrain: Promise<void> | undefined;
  private loops: Promise<unknown> | undefined;

  /** Checks the options; connects only on {@link connect}. Throws `TypeError`/`RangeError` on invalid options. */
  constructor(options: ChatClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.dedupe = options.dedupe ?? new SeqDedupe();
    this.requests = new RequestTracker(this.options.requestTimeoutMs);
    this.connector = new Connector({
      seeds: this.options.seeds,
      maxRedirects: this.options.maxRedirects,
      timeoutMs: this.options.requestTimeoutMs,
      token: () => this.options.token({ expired: this.tokenExpired }),
      report: (event) => this.report(event),
    });
    this.sender = new OutboxSender(
      options.outbox ?? new MemorySendOutbox(),
      {
        isConnected: () => this.connected.settled,
        waitConnected: async (ms, signal) => (await within(this.connected.promise, ms, signal)).kind === 'value',
        sendOnce: async (send) => decodeSendMessageResult(await this.request('sendMessage', sendMessageBody(send))),
      },
      { budgetMs: this.options.sendRetryBudgetMs, retryIntervalMs: this.options.outboxRetryIntervalMs },
      this.stopController.signal,
      (settled) => this.emit('sendSettled', settled),
    );
  }

  /** The welcome of the current connection; undefined while disconnected. */
  get welcome(): Welcome | undefined {
    return this.currentWelcome;
  }

  /** The URL of the node that welcomed the client last (its user's owner, after redirects). */
  get url(): string | undefined {
    return this.connector.lastUrl?.href;
  }

  /** Whether a node has welcomed the client and the connection is open. */
  get isConnected(): boolean {
    return this.connected.settled && this.connection?.isOpen === true;
  }

  /** Counters since the client was created. */
  get stats(): ChatClientStats {
    return { ...this.counters };
  }

  /**
   * Resolves with the replayed count once the current (or, while disconnected, the next) connection's inbox replay has
   * ended. Wait for it before concluding that nothing is waiting (§10).
   */
  get inboxReplayed(): Promise<number> {
    return this.replayed.promise;
  }

  /** Resolves with the last connection's close once the client stopped for good: a terminal code, or {@link close}. */
  get closed(): Promise<CloseInfo> {
    return this.stopped.promise;
  }

  /**
   * Runs one connect round (§10): the seeds in order, each following redirects, until a node sends `welcome`; then
   * keeps the client connected until {@link close} or a terminal close code. Rejects with {@link ChatConnectionError}
   * when no node welcomed the client (`terminal` when one refused it for good, e.g. 4104 too many clients); the client
   * is then stopped. Call it once.
   */
  async connect(signal?: AbortSignal): Promise<Welcome> {
    if (this.state !== 'new') {
      throw new Error('connect() can be called once per client');
    }

    this.state = 'connecting';
    let established: Established;
    try {
      const cancel = signal === undefined ? this.stopController.signal : AbortSignal.any([this.stopController.signal, signal]);
      established = await this.connector.connectRound(cancel);
    } catch (error) {
      this.finish(error instanceof ChatConnectionError && error.closeCode !== undefined ? { code: error.closeCode, reason: error.message } : CLIENT_CLOSED);
      throw error;
    }

    if (this.state !== 'connecting') {
      // close() was called while the round was ending.
      established.connection.close(1000, 'client closed');
      this.finish(CLIENT_CLOSED);
      throw new ChatConnectionError('the client was closed while connecting');
    }

    this.state = 'running';
    this.adopt(established);
    this.loops = Promise.all([this.run(established.connection), this.sender.run()]);
    return established.welcome;
  }

  /**
   * Stops the client: no more pushes are handed to the listeners, the acknowledgements gathered so far are sent (for
   * up to 2 s, so the next connection of this client is not pushed them again), then the connection closes with 1000.
   * Pending requests fail; sends whose outcome is unknown stay in the outbox. Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'new') {
      this.finish(CLIENT_CLOSED);
    } else if (this.state === 'connecting') {
      this.state = 'stopping';
      this.stopController.abort();
    } else if (this.state === 'running') {
      this.state = 'stopping';
      await this.flushAcks();
      this.stopController.abort();
      this.connection?.close(1000, 'client closed');
    }

    await this.loops;
    await this.stopped.promise;
  }

  /** Creates a chat of the calling user with `participants` (the other users; the creator may be listed), §4.1. Not idempotent. */
  async createChat(participants: readonly string[], name = ''): Promise<Chat> {
    const result = await this.request('createChat', name === '' ? { participants } : { participants, name });
    return decodeChat(result.chat);
  }

  /**
   * Sends a message (§4.2): kept in the outbox first, then retried on lost connections, timeouts and retryable errors
   * with the same client message id until the node answers or `sendRetryBudgetMs` runs out, waiting for a connection
   * if there is none. Resolves when the message is durably stored, once (`duplicate` when a retry found it stored).
   * Rejects with {@link ChatError} when the node refused it and with {@link ChatConnectionError} when it was never
   * applied: nothing was stored. Rejects with `SendOutcomeUnknownError` when it may have been stored: it stays in the
   * outbox, is retried after every connect and every `outboxRetryIntervalMs`, and settles through `sendSettled`.
   */
  async sendMessage(chatId: string, text: string, options: SendOptions = {}): Promise<SendMessageResult> {
    const send: PendingSend = {
      clientMessageId: options.clientMessageId ?? this.options.clientMessageIdFactory(),
      chatId,
      text,
      attachments: options.attachments ?? [],
      createdAtUnixMs: Date.now(),
    };
    return this.sender.send(send, options.signal);
  }

  /** Adds `userId` to a chat (§4.3); a no-op if they are a participant already. Returns the chat after the request. */
  addParticipant(chatId: string, userId: string): Promise<Chat> {
    return this.modifyChatParticipants(chatId, userId, 'ADD');
  }

  /** Removes `userId` from a chat (§4.3): the caller itself, or anyone when the caller is the chat's admin. */
  removeParticipant(chatId: string, userId: string): Promise<Chat> {
    return this.modifyChatParticipants(chatId, userId, 'REMOVE');
  }

  /** Adds or removes a participant (§4.3). Idempotent, except that leaving twice answers `NOT_PARTICIPANT`. */
  async modifyChatParticipants(chatId: string, userId: string, action: ParticipantAction): Promise<Chat> {
    return decodeChat((await this.request('modifyChatParticipants', { chatId, userId, action })).chat);
  }

  /** One page of the user's chats, oldest first (§4.4): up to `limit` (1-100; default 100) after the cursor `after`. */
  async listChatsPage(page: { readonly limit?: number; readonly after?: string } = {}): Promise<ChatPage> {
    const body: WireCommands['listChats'] = {};
    if (page.limit !== undefined && page.limit > 0) {
      body.limit = page.limit;
    }

    if (page.after !== undefined && page.after !== '') {
      body.after = page.after;
    }

    return decodeChatPage(await this.request('listChats', body));
  }

  /** Every chat of the user, oldest first: all pages of `listChats`, following `next` until the last page. */
  async listChats(options: ListChatsOptions = {}): Promise<Chat[]> {
    const chats: Chat[] = [];
    let after = '';
    for (let pages = 0; pages < MAX_LIST_PAGES; pages++) {
      const page = await this.listChatsPage({ ...(options.pageSize === undefined ? {} : { limit: options.pageSize }), after });
      chats.push(...page.chats);
      if (page.next === '') {
        return chats;
      }

      after = page.next;
    }

    throw new Error(`listChats returned more than ${MAX_LIST_PAGES} pages`);
  }

  /**
   * Acknowledges pushes by delivery id (§4.5), in batches of at most 500; returns how many were still in the inbox. With
   * `autoAck` (the default) the client does this itself.
   */
  async ack(deliveryIds: readonly string[]): Promise<number> {
    let acknowledged = 0;
    for (let start = 0; start < deliveryIds.length; start += MAX_ACK_BATCH) {
      const result = await this.request('ack', { deliveryIds: deliveryIds.slice(start, start + MAX_ACK_BATCH) });
      acknowledged += result.acknowledged ?? 0;
    }

    return acknowledged;
  }

  /** An application-level round trip (§4.6); returns the node's clock, Unix milliseconds. */
  async ping(): Promise<number> {
    return decodePong(await this.request('ping', {}));
  }

  /** The calling user's registered clients, oldest first (§4.8). */
  async listClients(): Promise<ClientInfo[]> {
    return decodeClients(await this.request('listClients', {}));
  }

  /** Deregisters one of the user's clients, this one included (§4.7): its inbox is deleted and it is closed with 4101. */
  async deactivateClient(clientId: string): Promise<void> {
    await this.request('deactivateClient', { clientId });
  }

  /** Asks for a presigned upload URL (§4.9). Not idempotent: every call mints a new attachment id. */
  async getAttachmentUpload(contentType: string, size: number, sha256: string): Promise<AttachmentUploadGrant> {
    return decodeUploadGrant(await this.request('getAttachmentUpload', { contentType, size: String(size), sha256 }));
  }

  /** Asks for a presigned download URL of an attachment, with its metadata (§4.10). */
  async getAttachmentDownload(attachmentId: string): Promise<AttachmentDownloadGrant> {
    return decodeDownloadGrant(await this.request('getAttachmentDownload', { attachmentId }));
  }

  /**
   * Uploads an attachment (§4.11 steps 1-2): hashes the bytes, asks for an upload URL, PUTs the bytes with their
   * `Content-Type` to the media store. Returns the attachment to pass to {@link sendMessage}. Does not retry. Throws
   * {@link ChatError} when the node refuses the grant and `MediaStoreError` when the store refuses the bytes.
   */
  async uploadAttachment(bytes: Uint8Array, contentType: string, options: { readonly signal?: AbortSignal } = {}): Promise<Attachment> {
    const sha256 = await sha256Hex(bytes);
    const grant = await this.getAttachmentUpload(contentType, bytes.byteLength, sha256);
    await putObject(grant.uploadUrl, bytes, contentType, grant.attachmentId, options.signal);
    return { attachmentId: grant.attachmentId, contentType, size: bytes.byteLength, sha256 };
  }

  /**
   * Downloads an attachment (§4.11 step 4): asks for a download URL, GETs the bytes and checks their SHA-256. Throws
   * {@link AttachmentIntegrityError} when the bytes do not match the attachment's hash.
   */
  async downloadAttachment(attachmentId: string, options: { readonly signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const grant = await this.getAttachmentDownload(attachmentId);
    const bytes = await getObject(grant.downloadUrl, attachmentId, options.signal);
    const sha256 = await sha256Hex(bytes);
    if (sha256 !== grant.attachment.sha256) {
      throw new AttachmentIntegrityError(attachmentId, grant.attachment.sha256, sha256);
    }

    return bytes;
  }

  private sendQuietAck(deliveryIds: readonly string[]): void {
    const connection = this.connection;
    if (connection === undefined || !connection.isOpen) {
      throw new ChatConnectionError('not connected');
    }

    this.requests.sendUnanswered(connection, 'ack', { deliveryIds, quiet: true });
  }

  // One request on the current connection (see RequestTracker.send for how it fails).
  private request<C extends CommandName>(command: C, body: WireCommands[C]): Promise<WireResults[C]> {
    const connection = this.connection;
    if (connection === undefined || !connection.isOpen || this.state === 'stopped') {
      return Promise.reject(new ChatConnectionError('not connected'));
    }

    return this.requests.send(connection, this.currentWelcome?.maxFrameBytes ?? 0, command, body);
  }

  // Keeps the client connected from the first welcome until it stops: after each connection ends, reconnects unless
  // the code is terminal or the client is closing.
  private async run(first: Connection): Promise<void> {
    let connection = first;
    for (;;) {
      const close = await connection.closed;
      this.lose(connection, close);
      const reconnect = this.state === 'running' && !isTerminalCloseCode(close.code);
      this.emit('connection', { state: 'closed', code: close.code, reason: close.reason, willReconnect: reconnect });
      if (!reconnect) {
        this.finish(close);
        return;
      }

      this.tokenExpired = close.code === TOKEN_EXPIRED;
      const next = await this.reconnect(connection);
      if (!('connection' in next)) {
        this.finish(next);
        return;
      }

      if (this.state !== 'running') {
        next.connection.close(1000, 'client closed');
        this.finish(CLIENT_CLOSED);
        return;
      }

      this.adopt(next);
      connection = next.connection;
    }
  }

  // Follows a handoff redirect at once; otherwise (or if that fails) waits a jittered first delay and runs connect
  // rounds with exponential backoff until one succeeds. Returns the close to stop with when the client stops or a node
  // refuses the client for good.
  private async reconnect(lost: Connection): Promise<Established | CloseInfo> {
    const stop = this.stopController.signal;
    const redirect = this.redirect;
    this.redirect = undefined;
    const target = redirect === undefined ? undefined : parseNodeUrl(redirect.url);
    if (redirect !== undefined && target !== undefined) {
      this.report({ state: 'redirected', from: lost.url.href, to: target.href, nodeId: redirect.nodeId, epoch: redirect.epoch });
      try {
        return await this.connector.connectVia(target, redirect.epoch, stop);
      } catch (error) {
        const final = finalClose(error, stop);
        if (final !== undefined) {
          return final;
        }
      }
    }

    const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } = this.options;
    for (let attempt = 1; ; attempt++) {
      // The first wait spreads the reconnects of many clients that lost their node at the same moment.
      const delayMs = attempt === 1 ? jitter(min) : backoffDelay(attempt - 2, min, max);
      this.report({ state: 'reconnecting', attempt, delayMs });
      if (!(await sleep(delayMs, stop))) {
        return CLIENT_CLOSED;
      }

      try {
        return await this.connector.connectRound(stop);
      } catch (error) {
        const final = finalClose(error, stop);
        if (final !== undefined) {
          return final;
        }
      }
    }
  }

  private adopt({ connection, welcome, redirects }: Established): void {
    this.connection = connection;
    this.currentWelcome = welcome;
    this.tokenExpired = false;
    this.counters.connections++;
    this.connected.resolve();
    this.emit('connection', { state: 'connected', url: connection.url.href, nodeId: welcome.nodeId, redirects, welcome });
    connection.onFrame((frame) => this.handle(frame));
    this.sender.wake();
  }

  // The connection ended: its requests will not be answered, and the next connection replays the inbox anew.
  private lose(connection: Connection, close: CloseInfo): void {
    this.connected = new Deferred();
    this.currentWelcome = undefined;
    if (this.replayed.settled) {
      this.replayed = new Deferred();
    }

    this.requests.failAll(
      connection,
      () => new ChatConnectionError(`the connection closed (${close.code}) before the result arrived`, { requestSent: true, closeCode: close.code }),
    );
  }

  private finish(close: CloseInfo): void {
    this.state = 'stopped';
    this.stopController.abort();
    this.requests.failAll(undefined, () => new ChatConnectionError('the client stopped before the result arrived', { requestSent: true }));

    this.stopped.resolve(close);
  }

  private handle(frame: WireServerFrame): void {
    if (this.requests.settle(frame)) {
      return;
    }

    if (frame.newMessage !== undefined) {
      const message = decodeNewMessage(frame.newMessage);
      this.deliver('message', message, { chatId: message.chatId, kind: 'message', number: message.seq }, message.deliveryId);
    } else if (frame.chatUpdate !== undefined) {
      const update = decodeChatUpdate(frame.chatUpdate);
      this.deliver('chatUpdate', update, { chatId: update.chat.chatId, kind: 'chatUpdate', number: update.chat.version }, update.deliveryId);
    } else if (frame.inboxReplayed !== undefined) {
      const count = frame.inboxReplayed.count ?? 0;
      this.replayed.resolve(count);
      this.emit('inboxReplayed', { count });
    } else if (frame.redirect !== undefined) {
      this.redirect = decodeRedirect(frame.redirect);
    } else if (frame.error !== undefined) {
      this.emit('connectionError', ChatError.fromWire(frame.error));
    }

    // Pushes this version does not know are ignored (§3.2).
  }

  // Hands a push to the listeners once and acknowledges it, a repeat too (the node must stop pushing it). Once the
  // client is closing nothing is handed over or acknowledged: the node pushes it again to the next connection.
  private deliver<K extends 'message' | 'chatUpdate'>(type: K, item: ChatClientEvents[K], key: DedupeKey, deliveryId: string): void {
    if (this.state !== 'running') {
      return;
    }

    this.counters.pushes++;
    if (this.dedupe.tryAccept(key)) {
      this.emit(type, item);
    } else {
      this.counters.duplicates++;
    }

    if (this.options.autoAck) {
      this.acks.push(deliveryId);
      this.ackDrain ??= this.drainAcks();
    }
  }

  // One ack per `ackDelayMs`, carrying everything gathered meanwhile, until nothing is left. While the client runs the
  // acks are quiet (§4.5: the node answers only a failed one, and nothing here needs the count); the last one before
  // it closes waits for its answer, so the node has it before the connection ends.
  private async drainAcks(): Promise<void> {
    try {
      while (this.acks.length > 0) {
        if (this.options.ackDelayMs > 0 && this.state === 'running') {
          await sleep(this.options.ackDelayMs, this.stopController.signal);
        }

        const batch = this.acks.splice(0, MAX_ACK_BATCH);
        try {
          if (this.state === 'running') {
            this.sendQuietAck(batch);
          } else {
            await this.ack(batch);
          }
        } catch {
          // A failed ack is not retried: the node pushes the items again and the dedupe absorbs them.
        }
      }
    } finally {
      this.ackDrain = undefined;
    }
  }

  private async flushAcks(): Promise<void> {
    if (this.ackDrain !== undefined) {
      await within(this.ackDrain, ACK_FLUSH_TIMEOUT_MS);
    }
  }

  private report(event: ConnectionEvent): void {
    if (event.state === 'redirected') {
      this.counters.redirects++;
    }

    this.emit('connection', event);
  }
}

// The close to stop the client with after a failed connect, or undefined when the client should keep trying.
function finalClose(error: unknown, stop: AbortSignal): CloseInfo | undefined {
  if (stop.aborted) {
    return CLIENT_CLOSED;
  }

  if (!(error instanceof ChatConnectionError)) {
    return { code: 1006, reason: `reconnect failed: ${String(error)}` };
  }

  return error.terminal && error.closeCode !== undefined ? { code: error.closeCode, reason: error.message } : undefined;
}

function sendMessageBody(send: PendingSend): WireCommands['sendMessage'] {
  return {
    chatId: send.chatId,
    clientMessageId: send.clientMessageId,
    ...(send.text === '' ? {} : { text: send.text }),
    ...(send.attachments.length === 0 ? {} : { attachments: send.attachments.map(({ attachmentId }) => ({ attachmentId })) }),
  };
}
