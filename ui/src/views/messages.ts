/** Messages view: conversations per node, the selected thread, and a compose box. */
import { errorText, sendMessage, type InMessage, type OutMessage, type Snapshot } from '../api';
import { h, q, setText, showError } from '../dom';
import { formatBytes, formatShortTime, formatTime, nodeLabel } from '../format';
import { syncList, type View } from './common';

type Item =
  | { dir: 'in'; t: number; m: InMessage }
  | { dir: 'out'; t: number; m: OutMessage };

interface Conversation {
  peer: string;
  items: Item[];
  unread: number;
  last: number;
}

const STATUS_LABEL: Record<OutMessage['status'], string> = {
  queued: 'queued',
  sent: 'sent',
  delivered: 'delivered ✓',
  expired: 'expired',
  failed: 'failed',
};

/** Ids are compared case-insensitively; the service may echo them in either case. */
function norm(peer: string): string {
  return peer.trim().toLowerCase();
}

/**
 * When this window last showed each conversation (ms). The service's `read` flag means "taken
 * by `hypha recv`", which a message read here never is, so the window keeps its own mark.
 */
function seenKey(peer: string): string {
  return `hypha.seen.${norm(peer)}`;
}

/** Marks a conversation as read up to `t` (ms). */
export function markSeen(peer: string, t: number): void {
  try {
    if (t > seenUntil(peer)) localStorage.setItem(seenKey(peer), String(t));
  } catch {
    // Storage unavailable: unread counts then only follow the service's flag.
  }
}

function seenUntil(peer: string): number {
  try {
    return Number(localStorage.getItem(seenKey(peer)) ?? 0) || 0;
  } catch {
    return 0;
  }
}

/** Whether a received message is still unread for the person at this window. */
export function isUnread(m: InMessage): boolean {
  return !m.read && m.receivedMs > seenUntil(m.from);
}

/** Group inbox and outbox into conversations, newest conversation first. */
export function conversations(snap: Snapshot): Conversation[] {
  const map = new Map<string, Conversation>();
  const get = (peer: string) => {
    const k = norm(peer);
    let c = map.get(k);
    if (!c) map.set(k, (c = { peer: k, items: [], unread: 0, last: 0 }));
    return c;
  };
  for (const m of snap.messages?.inbox ?? []) {
    const c = get(m.from);
    c.items.push({ dir: 'in', t: m.receivedMs, m });
    if (isUnread(m)) c.unread++;
    c.last = Math.max(c.last, m.receivedMs);
  }
  for (const m of snap.messages?.outbox ?? []) {
    const c = get(m.to);
    c.items.push({ dir: 'out', t: m.createdMs, m });
    c.last = Math.max(c.last, m.createdMs);
  }
  const list = [...map.values()];
  for (const c of list) c.items.sort((a, b) => a.t - b.t || a.m.id.localeCompare(b.m.id));
  return list.sort((a, b) => b.last - a.last || a.peer.localeCompare(b.peer));
}

/** Text of a message, or a description when only its size is known (e.g. binary payloads). */
function messageText(snap: Snapshot, it: Item): string {
  const t = snap.texts[it.m.id];
  if (t != null) return t;
  return `(${it.m.size} bytes, topic ${it.m.topic})`;
}

/** Accept a 64-hex node id or something that looks like an IPv6 address; the service does the real check. */
export function validateRecipient(to: string): string | null {
  if (!to) return 'Enter a recipient: a node id or an overlay IPv6 address.';
  if (/^[0-9a-f]{64}$/i.test(to)) return null;
  if (/^[0-9a-f:]+$/i.test(to) && to.includes(':')) return null;
  if (/^[0-9a-f]+$/i.test(to)) return `A node id has 64 hex characters; this one has ${to.length}.`;
  return 'The recipient must be a node id (64 hex characters) or an overlay IPv6 address.';
}

/** Build the messages view inside its section. */
export function createMessagesView(root: HTMLElement): View {
  let last: Snapshot | null = null;
  let selected: string | null = null;
  let sending = false;

  const convList = h('ul', { id: 'conversations', class: 'conversations', 'aria-label': 'Conversations' });
  const noConv = h('p', { class: 'muted small conv-empty' }, 'No messages yet.');
  const newBtn = h('button', { type: 'button', id: 'new-conversation' }, 'New message');
  const threadTitle = h('div', { class: 'thread-title mono', id: 'thread-title' });
  const list = h('div', { id: 'message-list', class: 'message-list', role: 'log', 'aria-live': 'polite' });
  const datalist = h('datalist', { id: 'known-nodes' });
  const toInput = h('input', {
    id: 'compose-to',
    type: 'text',
    class: 'mono',
    list: 'known-nodes',
    placeholder: 'Node id or overlay address',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-label': 'To',
  });
  const text = h('textarea', { id: 'compose-text', rows: 3, placeholder: 'Write a message… (Ctrl+Enter to send)', 'aria-label': 'Message' });
  const sendBtn = h('button', { id: 'compose-send', type: 'submit', class: 'primary', disabled: true }, 'Send');
  const sendErr = h('div', { id: 'compose-error', class: 'error', hidden: true, role: 'alert' });
  const form = h(
    'form',
    { id: 'compose', class: 'compose' },
    h('label', { class: 'compose-to-row' }, h('span', {}, 'To'), toInput),
    datalist,
    text,
    h('div', { class: 'compose-actions' }, sendErr, sendBtn),
  );

  root.append(
    h('h1', {}, 'Messages'),
    h(
      'div',
      { class: 'messages-layout' },
      h('aside', { class: 'conv-pane' }, newBtn, convList, noConv),
      h('div', { class: 'thread-pane' }, threadTitle, list, form),
    ),
  );

  function updateSendEnabled(): void {
    sendBtn.disabled = sending || !text.value.trim() || !toInput.value.trim();
  }
  text.addEventListener('input', updateSendEnabled);
  toInput.addEventListener('input', () => {
    updateSendEnabled();
    showError(sendErr, null);
  });
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      if (!sendBtn.disabled) void send();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void send();
  });
  newBtn.addEventListener('click', () => {
    select(null);
    toInput.value = '';
    updateSendEnabled();
    toInput.focus();
  });
  convList.addEventListener('click', (ev) => {
    const li = (ev.target as Element).closest<HTMLElement>('.conversation');
    if (li?.dataset.nodeId) select(li.dataset.nodeId);
  });
  convList.addEventListener('keydown', (ev) => {
    const li = (ev.target as Element).closest<HTMLElement>('.conversation');
    if (li?.dataset.nodeId && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      select(li.dataset.nodeId);
    }
  });

  async function send(): Promise<void> {
    const to = toInput.value.trim();
    const body = text.value;
    if (!body.trim()) return;
    const problem = validateRecipient(to);
    showError(sendErr, problem);
    if (problem) return;
    sending = true;
    updateSendEnabled();
    try {
      await sendMessage(to, body);
      // Only clear what was sent; the user may have kept typing meanwhile.
      if (text.value === body) text.value = '';
      select(norm(to));
      text.focus();
    } catch (e) {
      showError(sendErr, errorText(e));
    } finally {
      sending = false;
      updateSendEnabled();
    }
  }

  /** Change the selected conversation; the To field follows the selection only when it changes. */
  function select(peer: string | null): void {
    if (peer === selected) return;
    selected = peer;
    toInput.value = peer ?? '';
    list.replaceChildren();
    showError(sendErr, null);
    updateSendEnabled();
    if (last) draw(last);
  }

  function draw(snap: Snapshot): void {
    const convs = conversations(snap);
    if (selected == null && convs.length && document.activeElement !== toInput && !toInput.value) {
      selected = convs[0].peer;
      toInput.value = selected;
      updateSendEnabled();
    }
    noConv.hidden = convs.length > 0;
    syncList(
      convList,
      convs,
      (c) => c.peer,
      () =>
        h(
          'li',
          { class: 'conversation', tabindex: 0, role: 'button' },
          h('div', { class: 'conv-top' }, h('span', { class: 'conv-peer mono' }), h('span', { class: 'conv-time' })),
          h('div', { class: 'conv-bottom' }, h('span', { class: 'conv-preview' }), h('span', { class: 'unread-count badge' })),
        ),
      (el, c) => {
        el.dataset.nodeId = c.peer;
        el.classList.toggle('selected', c.peer === selected);
        el.classList.toggle('has-unread', c.unread > 0);
        const peer = q(el, '.conv-peer');
        setText(peer, nodeLabel(c.peer, snap.names));
        peer.title = c.peer;
        setText(q(el, '.conv-time'), formatShortTime(c.last));
        const lastItem = c.items[c.items.length - 1];
        setText(q(el, '.conv-preview'), lastItem ? (lastItem.dir === 'out' ? 'You: ' : '') + messageText(snap, lastItem).replace(/\s+/g, ' ') : '');
        const badge = q(el, '.unread-count');
        setText(badge, String(c.unread));
        badge.hidden = c.unread === 0;
        el.setAttribute('aria-label', `Conversation with ${c.peer}${c.unread ? `, ${c.unread} unread` : ''}`);
      },
    );

    const conv = convs.find((c) => c.peer === selected);
    if (conv && conv.unread && !document.hidden) {
      markSeen(conv.peer, conv.last);
      conv.unread = 0;
    }
    setText(threadTitle, selected ? (conv ? `Conversation with ${nodeLabel(selected, snap.names)}` : `New conversation with ${nodeLabel(selected, snap.names)}`) : 'New conversation');
    threadTitle.title = selected ?? '';
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const before = list.childElementCount;
    syncList(
      list,
      conv?.items ?? [],
      (it) => `${it.dir}:${it.m.id}`,
      (it) =>
        h(
          'div',
          { class: 'message', 'data-id': it.m.id, 'data-direction': it.dir },
          h('div', { class: 'message-text' }),
          h('div', { class: 'message-meta' }, h('span', { class: 'message-time' }), h('span', { class: 'message-badge' })),
        ),
      (el, it) => {
        const status = it.dir === 'out' ? it.m.status : 'received';
        el.dataset.status = status;
        const known = snap.texts[it.m.id] != null;
        const t = q(el, '.message-text');
        t.classList.toggle('unknown', !known);
        setText(t, messageText(snap, it));
        const time = q(el, '.message-time');
        setText(time, formatTime(it.t));
        time.title = new Date(it.t).toLocaleString();
        const badge = q(el, '.message-badge');
        if (it.dir === 'out') {
          setText(badge, STATUS_LABEL[it.m.status]);
          badge.hidden = false;
          badge.title =
            `${formatBytes(it.m.size)}, topic ${it.m.topic}` +
            (it.m.deadlineMs != null ? `, expires ${new Date(it.m.deadlineMs).toLocaleString()}` : '');
        } else {
          badge.hidden = true;
          el.title = `${formatBytes(it.m.size)}, topic ${it.m.topic}${it.m.replyTo ? `, reply to ${it.m.replyTo}` : ''}`;
        }
      },
    );
    if (!conv) {
      if (!list.querySelector('.thread-empty'))
        list.append(h('p', { class: 'muted thread-empty' }, selected ? 'No messages with this node yet.' : 'Pick a conversation or enter a recipient below.'));
    }
    // Follow new messages only if the user was already reading the end of the thread.
    if (before === 0 || (atBottom && list.childElementCount !== before)) list.scrollTop = list.scrollHeight;

    const ownId = snap.status?.nodeId;
    const known = [...new Set(snap.routes.map((r) => r.nodeId))].filter((id) => id !== ownId).sort();
    syncList(
      datalist,
      known,
      (id) => id,
      (id) => h('option', { value: id }),
      () => {},
    );
  }

  return {
    render(snap: Snapshot) {
      last = snap;
      draw(snap);
    },
  };
}
