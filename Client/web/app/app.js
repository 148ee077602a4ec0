// The chatnode browser app: signs in with a development token (POST /v1/dev/token, make run only), then chats through
// the TypeScript client library (served at ./lib/). Plain DOM, no framework. A message shows its state: "sending" until
// the node confirmed it, "stored" once confirmed, "delivered to this device" when it arrived here.
import { ChatClient, ChatError } from './lib/index.js';

const $ = (id) => document.getElementById(id);

// The device keeps its own history (the node deletes what a device acknowledged, like a phone's chat app): every
// message shown is saved in localStorage under the signed-in user and device, and shown again after a reload.
const history = {
  key: (chatId) => `chatnode:${state.me}:${state.device}:chat:${chatId}`,
  load(chatId) {
    try {
      return JSON.parse(localStorage.getItem(this.key(chatId)) ?? '[]');
    } catch {
      return [];
    }
  },
  save(message, status) {
    const saved = this.load(message.chatId).filter((m) => m.messageId !== message.messageId);
    const { chatId, messageId, seq, senderUserId, text, attachments, sentAtUnixMs } = message;
    saved.push({ chatId, messageId, seq, senderUserId, text, attachments, sentAtUnixMs, status });
    localStorage.setItem(this.key(chatId), JSON.stringify(saved.slice(-500)));
  },
};
const state = {
  client: undefined,
  me: '',
  chats: new Map(), // chatId -> Chat
  messages: new Map(), // chatId -> Map(key -> { seq, el })
  selected: undefined,
  images: new Map(), // attachmentId -> object URL
};

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $('sign-in-error').textContent = '';
  try {
    await signIn(String(form.get('user')), String(form.get('device')));
  } catch (error) {
    $('sign-in-error').textContent = `Could not sign in: ${error.message}`;
  }
});

async function token(user, device) {
  const response = await fetch('/v1/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, client: device }),
  });
  if (!response.ok) {
    throw new Error(`the node answered ${response.status} (${(await response.json().catch(() => ({}))).error ?? 'no development tokens'})`);
  }

  return (await response.json()).token;
}

async function signIn(user, device) {
  await token(user, device); // fails early with a clear message when the node has no development tokens
  const seed = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new ChatClient({ seeds: [seed], token: () => token(user, device) });
  state.client = client;
  state.me = user;
  state.device = device;
  client.on('connection', showConnection);
  client.on('message', (message) => showMessage(message, { status: 'delivered to this device' }));
  client.on('chatUpdate', (update) => {
    rememberChat(update.chat);
    showSystem(update.chat.chatId, describeUpdate(update), update.updatedAtUnixMs);
    if (update.kind === 'PARTICIPANT_REMOVED' && update.targetUserId === state.me) {
      state.chats.delete(update.chat.chatId);
      renderChats();
    }
  });
  await client.connect();
  $('sign-in').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = `${user} · ${device}`;
  for (const chat of await client.listChats()) {
    rememberChat(chat);
    for (const saved of history.load(chat.chatId)) {
      if (!state.messages.get(chat.chatId)?.has(saved.messageId)) {
        showMessage(saved, { status: saved.status });
      }
    }
  }
}

function showConnection(event) {
  const badge = $('connection');
  badge.dataset.state = event.state;
  const text = {
    connecting: () => `connecting to ${event.url}`,
    redirected: () => `redirected to ${event.nodeId} (${event.to})`,
    connected: () => `connected to ${event.nodeId}${event.redirects ? ` after ${event.redirects} redirect(s)` : ''}`,
    reconnecting: () => `reconnecting in ${Math.round(event.delayMs)} ms (attempt ${event.attempt})`,
    closed: () => `closed (${event.code}${event.reason ? `: ${event.reason}` : ''})${event.willReconnect ? ', reconnecting' : ''}`,
  }[event.state]();
  badge.textContent = event.state === 'connected' ? `● ${event.nodeId}` : event.state;
  badge.title = text;
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('connection-log').prepend(item);
  while ($('connection-log').children.length > 50) {
    $('connection-log').lastChild.remove();
  }
}

function rememberChat(chat) {
  state.chats.set(chat.chatId, chat);
  renderChats();
  if (state.selected === chat.chatId) {
    renderHeader(chat);
  }
}

function chatTitle(chat) {
  return chat.name || chat.participants.filter((p) => p !== state.me).join(', ') || chat.chatId;
}

function renderChats() {
  const list = $('chats');
  list.replaceChildren(...[...state.chats.values()].sort((a, b) => a.createdAtUnixMs - b.createdAtUnixMs).map((chat) => {
    const item = document.createElement('li');
    item.dataset.chatId = chat.chatId;
    item.setAttribute('aria-selected', String(chat.chatId === state.selected));
    item.textContent = chatTitle(chat);
    const members = document.createElement('small');
    members.textContent = `${chat.participants.length} participants`;
    item.append(members);
    item.addEventListener('click', () => select(chat.chatId));
    return item;
  }));
}

function select(chatId) {
  state.selected = chatId;
  $('conversation').hidden = false;
  renderChats();
  renderHeader(state.chats.get(chatId));
  const list = $('messages');
  list.replaceChildren(...[...(state.messages.get(chatId)?.values() ?? [])].sort(bySeq).map((m) => m.el));
  list.scrollTop = list.scrollHeight;
}

function renderHeader(chat) {
  $('chat-title').textContent = chatTitle(chat);
  $('participants').replaceChildren(...chat.participants.map((user) => {
    const tag = document.createElement('span');
    tag.textContent = user;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = '×';
    remove.title = user === state.me ? 'Leave the chat' : `Remove ${user}`;
    remove.addEventListener('click', () => run(() => state.client.removeParticipant(chat.chatId, user).then(rememberChat)));
    tag.append(remove);
    return tag;
  }));
}

const bySeq = (a, b) => a.seq - b.seq;

// One entry per message of a chat, keyed by message id, ordered by seq (§6.5); `pending` entries wait for their seq.
function place(chatId, key, seq, el) {
  let chat = state.messages.get(chatId);
  if (!chat) {
    chat = new Map();
    state.messages.set(chatId, chat);
  }

  chat.set(key, { seq, el });
  if (state.selected === chatId) {
    const list = $('messages');
    const after = [...chat.values()].filter((m) => m.el !== el && m.seq > seq).sort(bySeq)[0];
    list.insertBefore(el, after?.el ?? null);
    list.scrollTop = list.scrollHeight;
  }
}

function messageElement(mine, sender, text) {
  const el = document.createElement('li');
  el.className = mine ? 'mine' : '';
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  const meta = document.createElement('span');
  meta.className = 'meta';
  el.append(body, meta);
  el.dataset.sender = sender;
  return el;
}

function setStatus(el, text, at) {
  el.dataset.status = text;
  el.querySelector('.meta').textContent = `${el.dataset.sender} · ${new Date(at).toLocaleTimeString()} · ${text}`;
}

async function showMessage(message, { status }) {
  history.save(message, status);
  const existing = state.messages.get(message.chatId)?.get(message.messageId);
  const el = existing?.el ?? messageElement(message.senderUserId === state.me, message.senderUserId, message.text);
  setStatus(el, status, message.sentAtUnixMs);
  place(message.chatId, message.messageId, message.seq, el);
  for (const attachment of message.attachments) {
    if (attachment.contentType.startsWith('image/') && !el.querySelector(`img[data-attachment-id="${attachment.attachmentId}"]`)) {
      const img = document.createElement('img');
      img.dataset.attachmentId = attachment.attachmentId;
      img.alt = 'image';
      el.append(img);
      img.src = await imageUrl(attachment);
    }
  }
}

async function imageUrl(attachment) {
  if (!state.images.has(attachment.attachmentId)) {
    const bytes = await state.client.downloadAttachment(attachment.attachmentId);
    state.images.set(attachment.attachmentId, URL.createObjectURL(new Blob([bytes], { type: attachment.contentType })));
  }

  return state.images.get(attachment.attachmentId);
}

function showSystem(chatId, text, at) {
  const el = document.createElement('li');
  el.className = 'system';
  el.textContent = `${text} · ${new Date(at).toLocaleTimeString()}`;
  // Chat updates have no seq: they go after the messages known so far.
  const known = [...(state.messages.get(chatId)?.values() ?? [])];
  place(chatId, `update-${at}-${text}`, known.length ? Math.max(...known.map((m) => m.seq)) + 0.5 : 0, el);
}

function describeUpdate(update) {
  switch (update.kind) {
    case 'CREATED': return `${update.actorUserId} created the chat`;
    case 'PARTICIPANT_ADDED': return `${update.actorUserId} added ${update.targetUserId}`;
    case 'PARTICIPANT_REMOVED': return update.actorUserId === update.targetUserId ? `${update.actorUserId} left` : `${update.actorUserId} removed ${update.targetUserId}`;
    default: return 'chat changed';
  }
}

async function run(action) {
  $('chat-error').textContent = '';
  try {
    await action();
  } catch (error) {
    $('chat-error').textContent = error instanceof ChatError ? `${error.code}: ${error.message}` : error.message;
  }
}

$('new-chat').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const participants = String(form.get('participants')).split(',').map((p) => p.trim()).filter(Boolean);
  run(async () => {
    const chat = await state.client.createChat(participants, String(form.get('name') ?? '').trim());
    rememberChat(chat);
    select(chat.chatId);
    event.target.reset();
  });
});

$('add-participant').addEventListener('submit', (event) => {
  event.preventDefault();
  const user = String(new FormData(event.target).get('user')).trim();
  run(async () => {
    rememberChat(await state.client.addParticipant(state.selected, user));
    event.target.reset();
  });
});

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const text = String(form.get('text') ?? '').trim();
  const file = form.get('image');
  const image = file instanceof File && file.size > 0 ? file : undefined;
  if (!text && !image) {
    return;
  }

  const chatId = state.selected;
  const el = messageElement(true, state.me, text);
  const key = `sending-${crypto.randomUUID()}`;
  setStatus(el, 'sending', Date.now());
  place(chatId, key, Number.MAX_SAFE_INTEGER, el);
  event.target.reset();
  run(async () => {
    try {
      const attachments = image ? [await state.client.uploadAttachment(new Uint8Array(await image.arrayBuffer()), image.type)] : [];
      const result = await state.client.sendMessage(chatId, text, { attachments });
      // The same element, now under the message's id and seq.
      state.messages.get(chatId).delete(key);
      state.messages.get(chatId).set(result.messageId, { seq: result.seq, el });
      await showMessage({
        chatId, messageId: result.messageId, seq: result.seq, senderUserId: state.me, text, attachments, sentAtUnixMs: result.sentAtUnixMs,
      }, { status: 'stored' });
    } catch (error) {
      setStatus(el, 'not sent', Date.now());
      throw error;
    }
  });
});
