/** Peers view: live links with quality and priority, plus the configured peer list. */
import {
  addPeer,
  errorText,
  invite,
  join,
  removePeer,
  setContact,
  setIncoming,
  setPriority,
  UNREACHABLE,
  type Link,
  type Snapshot,
} from '../api';
import { h, q, setText, showError } from '../dom';
import { formatBytes, formatMs, shortId } from '../format';
import { emptyState, syncList, type View } from './common';

type Quality = { label: string; level: number };

/** Map a link cost to a label the user understands; thresholds are part of the product spec. */
export function linkQuality(link: Link): Quality | null {
  if (link.state !== 'up' || link.cost == null) return null;
  const c = link.cost;
  if (c >= UNREACHABLE) return { label: 'unreachable', level: 0 };
  if (c <= 96) return { label: 'excellent', level: 4 };
  if (c <= 256) return { label: 'good', level: 3 };
  if (c <= 1024) return { label: 'fair', level: 2 };
  return { label: 'poor', level: 1 };
}

/** Transport from the remote string, which is a URI for UDP and "tcp#N" for accepted TCP sockets. */
export function transportOf(remote: string): string {
  const m = /^([a-z]+)[:#]/i.exec(remote);
  return m ? m[1].toLowerCase() : '?';
}

/** Client-side check of a peer URI so obvious typos get a clear message before a round trip. */
export function validatePeerUri(uri: string): string | null {
  if (!uri) return 'Enter a peer address, e.g. udp://host:9651.';
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
  if (!m) return 'A peer address starts with udp:// or tcp://, e.g. udp://host:9651.';
  const scheme = m[1].toLowerCase();
  if (scheme !== 'udp' && scheme !== 'tcp') return `“${m[1]}://” is not supported; use udp:// or tcp://.`;
  if (!m[2] || m[2].startsWith(':')) return 'The peer address is missing a host, e.g. udp://host:9651.';
  return null;
}

function linkKey(l: Link): string {
  return `${l.nodeId ?? ''}|${l.remote}`;
}

/** Build the peers view inside its section. */
export function createPeersView(root: HTMLElement): View {
  let weights = new Map<string, number>();
  let names: Record<string, string> = {};
  let contacts = new Set<string>();

  const tbody = h('tbody');
  const table = h(
    'table',
    { id: 'peers-table', class: 'data' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Node'),
        h('th', {}, 'Remote'),
        h('th', {}, 'State'),
        h('th', {}, 'Quality'),
        h('th', { class: 'num' }, 'RTT'),
        h('th', { class: 'num' }, 'Rx / Tx'),
        h('th', { class: 'num', title: 'Relative share of forwarded traffic when the transit limit is reached (1–1000)' }, 'Priority'),
        h('th', { title: 'Contacts may open connections to this computer (the firewall lets them in)' }, 'Contact'),
      ),
    ),
    tbody,
  );
  const noLinks = emptyState('No links. Add a peer below, or wait for peers to connect to you.');
  const tableErr = h('div', { id: 'priority-error', class: 'error', hidden: true, role: 'alert' });

  const configured = h('ul', { id: 'configured-peers', class: 'plain-list' });
  const noConfigured = h('p', { class: 'muted', id: 'no-configured' }, 'No peers configured.');
  const configuredErr = h('div', { id: 'remove-peer-error', class: 'error', hidden: true, role: 'alert' });

  const uriInput = h('input', {
    id: 'add-peer-uri',
    type: 'text',
    placeholder: 'udp://host:9651 or tcp://host:9651',
    spellcheck: 'false',
    autocomplete: 'off',
    class: 'mono',
  });
  const addBtn = h('button', { id: 'add-peer-btn', type: 'submit', class: 'primary' }, 'Add peer');
  const addErr = h('div', { id: 'add-peer-error', class: 'error', hidden: true, role: 'alert' });
  const form = h('form', { id: 'add-peer-form', class: 'inline-form' }, uriInput, addBtn);

  // Who may open connections to this host over the mesh.
  const incoming = h(
    'select',
    { id: 'incoming-select', 'aria-label': 'Allow incoming from' },
    h('option', { value: 'contacts' }, 'contacts'),
    h('option', { value: 'everyone' }, 'everyone'),
    h('option', { value: 'nobody' }, 'nobody'),
  ) as HTMLSelectElement;
  const incomingErr = h('div', { id: 'incoming-error', class: 'error', hidden: true, role: 'alert' });
  const dropped = h('span', { id: 'firewall-dropped', class: 'muted small' });
  incoming.addEventListener('change', async () => {
    incoming.classList.add('pending');
    try {
      await setIncoming(incoming.value);
      showError(incomingErr, null);
    } catch (e) {
      showError(incomingErr, `Could not change the firewall: ${errorText(e)}`);
    } finally {
      incoming.classList.remove('pending');
    }
  });

  // Invites: this node's link (with a QR code), and joining someone else's.
  const inviteBtn = h('button', { id: 'invite-btn', type: 'button' }, 'Invite someone');
  const inviteLink = h('code', { id: 'invite-link', class: 'mono' });
  const inviteQr = h('div', { id: 'invite-qr', class: 'qr' });
  const inviteBox = h('div', { id: 'invite-box', hidden: true }, inviteQr, inviteLink);
  const inviteErr = h('div', { id: 'invite-error', class: 'error', hidden: true, role: 'alert' });
  inviteBtn.addEventListener('click', async () => {
    inviteBtn.disabled = true;
    try {
      const r = await invite();
      setText(inviteLink, r.invite.link);
      inviteQr.innerHTML = r.svg;
      inviteBox.hidden = false;
      showError(inviteErr, null);
    } catch (e) {
      showError(inviteErr, `Could not make an invite: ${errorText(e)}`);
    } finally {
      inviteBtn.disabled = false;
    }
  });
  const joinInput = h('input', {
    id: 'join-link',
    type: 'text',
    placeholder: 'hypha://join/…',
    spellcheck: 'false',
    autocomplete: 'off',
    class: 'mono',
  }) as HTMLInputElement;
  const joinContact = h('input', { id: 'join-contact', type: 'checkbox', checked: true }) as HTMLInputElement;
  const joinBtn = h('button', { id: 'join-btn', type: 'submit', class: 'primary' }, 'Join');
  const joinErr = h('div', { id: 'join-error', class: 'error', hidden: true, role: 'alert' });
  const joinDone = h('div', { id: 'join-done', class: 'muted small', hidden: true });
  const joinForm = h(
    'form',
    { id: 'join-form', class: 'inline-form' },
    joinInput,
    h('label', { class: 'small' }, joinContact, ' contact'),
    joinBtn,
  );
  joinForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    joinBtn.disabled = true;
    try {
      const r = await join(joinInput.value, joinContact.checked);
      joinInput.value = '';
      showError(joinErr, null);
      setText(joinDone, `Joining ${r.name ?? shortId(r.nodeId)} at ${r.endpoints.join(', ')}…`);
      joinDone.hidden = false;
    } catch (e) {
      showError(joinErr, errorText(e));
    } finally {
      joinBtn.disabled = false;
    }
  });

  root.append(
    h('h1', {}, 'Peers'),
    h('div', { class: 'table-wrap' }, table),
    noLinks,
    tableErr,
    h('h2', {}, 'Configured peers'),
    h('p', { class: 'muted small' }, 'This node keeps dialling these addresses and reconnects when a link drops.'),
    configured,
    noConfigured,
    configuredErr,
    form,
    addErr,
    h('h2', {}, 'Invites'),
    h('p', { class: 'muted small' }, 'Give someone your link, or paste theirs: no addresses to type.'),
    inviteBtn,
    inviteBox,
    inviteErr,
    joinForm,
    joinErr,
    joinDone,
    h('h2', {}, 'Firewall'),
    h('label', { class: 'inline-form' }, 'Allow incoming from: ', incoming, ' ', dropped),
    incomingErr,
  );

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const uri = uriInput.value.trim();
    const problem = validatePeerUri(uri);
    showError(addErr, problem);
    if (problem) {
      uriInput.focus();
      return;
    }
    addBtn.disabled = true;
    try {
      await addPeer(uri);
      uriInput.value = '';
    } catch (e) {
      showError(addErr, errorText(e));
    } finally {
      addBtn.disabled = false;
    }
  });
  uriInput.addEventListener('input', () => showError(addErr, null));

  function makeRow(l: Link): HTMLElement {
    const input = h('input', {
      type: 'number',
      class: 'priority-input num',
      min: 1,
      max: 1000,
      step: 1,
      'data-node-id': l.nodeId ?? '',
      'aria-label': 'Priority',
    });
    input.addEventListener('change', async () => {
      const peer = input.dataset.nodeId;
      if (!peer) return;
      const w = Math.round(Number(input.value));
      if (!Number.isFinite(w) || w < 1 || w > 1000) {
        showError(tableErr, 'Priority must be a whole number from 1 to 1000.');
        input.value = String(weights.get(peer) ?? 1);
        return;
      }
      input.value = String(w);
      input.classList.add('pending');
      try {
        await setPriority(peer, w);
        showError(tableErr, null);
      } catch (e) {
        showError(tableErr, `Could not set priority for ${shortId(peer)}: ${errorText(e)}`);
        input.value = String(weights.get(peer) ?? 1);
      } finally {
        input.classList.remove('pending');
      }
    });
    const contact = h('input', { type: 'checkbox', class: 'contact-input', 'aria-label': 'Contact' }) as HTMLInputElement;
    contact.addEventListener('change', async () => {
      const node = tr.dataset.nodeId;
      if (!node) return;
      contact.classList.add('pending');
      try {
        await setContact(node, contact.checked);
        showError(tableErr, null);
      } catch (e) {
        showError(tableErr, `Could not change contact ${shortId(node)}: ${errorText(e)}`);
        contact.checked = contacts.has(node);
      } finally {
        contact.classList.remove('pending');
      }
    });
    const bar = h('span', { class: 'qbar', 'aria-hidden': 'true' }, h('i'), h('i'), h('i'), h('i'));
    const tr = h(
      'tr',
      { class: 'peer-row' },
      h('td', { class: 'mono c-node' }),
      h('td', {}, h('div', { class: 'c-remote-cell' }, h('span', { class: 'c-transport tag' }), h('span', { class: 'mono c-remote' }))),
      h('td', { class: 'c-state' }, h('span', { class: 'pill' })),
      h('td', { class: 'c-quality' }, bar, h('span', { class: 'qlabel' })),
      h('td', { class: 'num c-rtt' }),
      h('td', { class: 'num c-bytes' }, h('div', { class: 'c-rx', title: 'received' }), h('div', { class: 'c-tx', title: 'sent' })),
      h('td', { class: 'num c-prio' }, input),
      h('td', { class: 'c-contact' }, contact),
    );
    return tr;
  }

  function updateRow(tr: HTMLElement, l: Link): void {
    tr.dataset.nodeId = l.nodeId ?? '';
    const node = q(tr, '.c-node');
    const name = l.nodeId ? names[l.nodeId] : undefined;
    setText(node, name ? `${name}.hypha` : l.nodeId ? shortId(l.nodeId) : '(unknown yet)');
    node.title = l.nodeId ?? 'The node id is learned during the handshake';
    setText(q(tr, '.c-transport'), transportOf(l.remote));
    const remote = q(tr, '.c-remote');
    setText(remote, l.remote);
    remote.title = l.remote;
    const pill = q(tr, '.c-state .pill');
    setText(pill, l.state);
    pill.dataset.state = l.state;
    const qual = linkQuality(l);
    const qcell = q(tr, '.c-quality');
    qcell.dataset.level = String(qual?.level ?? 0);
    setText(q(qcell, '.qlabel'), qual ? qual.label : '–');
    qcell.title = l.cost != null ? `cost ${l.cost}` : 'no cost while the link is not up';
    setText(q(tr, '.c-rtt'), formatMs(l.rttMs));
    setText(q(tr, '.c-rx'), `↓ ${formatBytes(l.rxBytes)}`);
    setText(q(tr, '.c-tx'), `↑ ${formatBytes(l.txBytes)}`);
    const input = q<HTMLInputElement>(tr, '.priority-input');
    input.dataset.nodeId = l.nodeId ?? '';
    // Priorities only exist per node id; without one there is nothing to set.
    input.disabled = !l.nodeId;
    const contact = q<HTMLInputElement>(tr, '.contact-input');
    contact.disabled = !l.nodeId;
    if (!contact.classList.contains('pending')) contact.checked = !!l.nodeId && contacts.has(l.nodeId);
    // Never overwrite what the user is typing, nor a change still in flight.
    if (document.activeElement !== input && !input.classList.contains('pending')) {
      input.value = String(l.nodeId ? weights.get(l.nodeId) ?? 1 : 1);
    }
  }

  return {
    render(snap: Snapshot) {
      weights = new Map((snap.sharing?.neighbours ?? []).map((n) => [n.nodeId, n.weight]));
      names = snap.names ?? {};
      contacts = new Set((snap.firewall?.contacts ?? []).map((c) => c.nodeId));
      const fw = snap.firewall;
      if (fw && document.activeElement !== incoming && !incoming.classList.contains('pending')) {
        incoming.value = fw.incoming;
      }
      incoming.disabled = !fw;
      setText(dropped, fw ? `dropped: ${fw.droppedTcp} TCP, ${fw.droppedUdp} UDP, ${fw.droppedOther} other` : '');
      const links = snap.peers?.links ?? [];
      // Up links first, then by node id, so rows do not jump around between snapshots.
      const order = { up: 0, unconfirmed: 1, handshaking: 2 } as const;
      const sorted = [...links].sort(
        (a, b) => order[a.state] - order[b.state] || (a.nodeId ?? '~').localeCompare(b.nodeId ?? '~') || a.remote.localeCompare(b.remote),
      );
      syncList(tbody, sorted, linkKey, makeRow, updateRow);
      table.hidden = sorted.length === 0;
      noLinks.hidden = sorted.length > 0;
      if (!snap.peers) setText(noLinks, 'No peer information yet. Waiting for the Hypha service…');
      else setText(noLinks, 'No links. Add a peer below, or wait for peers to connect to you.');

      const conf = snap.peers?.configured ?? [];
      noConfigured.hidden = conf.length > 0;
      syncList(
        configured,
        conf,
        (u) => u,
        (u) => {
          const btn = h('button', { type: 'button', class: 'remove-peer', 'data-uri': u, title: `Remove ${u}` }, 'Remove');
          btn.addEventListener('click', async () => {
            btn.disabled = true;
            try {
              await removePeer(u);
              showError(configuredErr, null);
            } catch (e) {
              showError(configuredErr, `Could not remove ${u}: ${errorText(e)}`);
            } finally {
              btn.disabled = false;
            }
          });
          return h('li', { class: 'configured-peer' }, h('code', { class: 'mono' }, u), btn);
        },
        () => {},
      );
    },
  };
}
