/**
 * The contract with the Rust side. The Rust process owns all state and pushes
 * a full `snapshot` event whenever anything changes; the UI only renders it
 * and calls commands. Keep these types in sync with src-tauri.
 */
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type ServiceState = 'connecting' | 'up' | 'down' | 'denied' | 'error';

export interface Snapshot {
  service: ServiceState;
  /** When not "up": what is wrong and how to fix it, written for people. */
  problem: string | null;
  /** The API socket path. */
  socket: string;
  /** e.g. "hyphad 0.1.0" */
  serviceVersion: string | null;
  status: Status | null;
  peers: Peers | null;
  routes: Route[];
  sharing: Sharing | null;
  messages: Messages | null;
  /** Message id -> UTF-8 text, for messages whose text is known. */
  texts: Record<string, string>;
  /** Up to the last 120 samples, one per second, oldest first. */
  rates: RateSample[];
  /** The inbound firewall (null from a service without one). */
  firewall: Firewall | null;
  /** Node id -> name, for every name known in the mesh. */
  names: Record<string, string>;
}

export interface Status {
  nodeId: string;
  address: string;
  subnet: string;
  uptimeS: number;
  tun: string | null;
  linksUp: number;
  routes: number;
  counters: Record<string, number>;
  sharePercent: number;
  transitLimitBps: number | null;
}

export interface Peers {
  links: Link[];
  /** Peer URIs like "udp://[::1]:9651". */
  configured: string[];
}

export interface Link {
  nodeId: string | null;
  /** "udp://…" or "tcp#3" */
  remote: string;
  state: 'handshaking' | 'unconfirmed' | 'up';
  cost: number | null;
  rttMs: number | null;
  rxBytes: number;
  txBytes: number;
  /** Forwarding priority weight (1 = normal), once authenticated. */
  priority?: number | null;
}

export interface Route {
  subnet: string;
  nodeId: string;
  /** null = this node's own route. */
  nextHop: string | null;
  metric: number;
}

export interface Sharing {
  percent: number;
  uplinkBps: number | null;
  /** The uplink as the service measured it (used when none is configured). */
  uplinkMeasuredBps?: number | null;
  limitBps: number | null;
  neighbours: NeighbourShare[];
}

export interface NeighbourShare {
  nodeId: string;
  weight: number;
  forwardedBytes: number;
  droppedShare: number;
  rateBps: number;
}

export interface Messages {
  outbox: OutMessage[];
  inbox: InMessage[];
}

export type OutStatus = 'queued' | 'sent' | 'delivered' | 'expired' | 'failed';

export interface OutMessage {
  id: string;
  to: string;
  topic: string;
  status: OutStatus;
  size: number;
  createdMs: number;
  deadlineMs: number | null;
}

export interface InMessage {
  id: string;
  from: string;
  topic: string;
  replyTo: string | null;
  size: number;
  receivedMs: number;
  read: boolean;
}

export interface RateSample {
  tMs: number;
  rxBps: number;
  txBps: number;
  forwardedBps: number;
  limitBps: number | null;
}

/** The inbound firewall, as the service reports it. */
export interface Firewall {
  incoming: 'contacts' | 'everyone' | 'nobody';
  contacts: { nodeId: string; name: string | null }[];
  rules: { node: string | null; name?: string; port: number | null; proto: string | null }[];
  exposed: number[];
  flows: number;
  droppedTcp: number;
  droppedUdp: number;
  droppedOther: number;
}

/** An invite link and what is in it. */
export interface Invite {
  link: string;
  nodeId: string;
  name: string | null;
  endpoints: string[];
  expiresMs: number | null;
}

export type ViewName = 'status' | 'peers' | 'routes' | 'messages' | 'sharing';

/** Metric/cost value the service uses for "unreachable". */
export const UNREACHABLE = 65535;

/**
 * Commands reject with a human-readable string; normalise anything else
 * (e.g. an Error thrown by the IPC layer itself) so the UI can always show it.
 */
export function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

/** Fetch the current snapshot once (the push event covers later changes). */
export function getSnapshot(): Promise<Snapshot> {
  return invoke<Snapshot>('snapshot');
}

/** Set the share of the uplink offered for transit traffic, 0–100. */
export function setShare(percent: number): Promise<void> {
  return invoke('set_share', { percent });
}

/** Set the uplink capacity, e.g. "100mbit", "1gbit", "500kbit". */
export function setUplink(uplink: string): Promise<void> {
  return invoke('set_uplink', { uplink });
}

/** Add a configured peer URI. */
export function addPeer(uri: string): Promise<void> {
  return invoke('add_peer', { uri });
}

/** Remove a configured peer URI. */
export function removePeer(uri: string): Promise<void> {
  return invoke('remove_peer', { uri });
}

/** Set a neighbour's transit priority weight (1–1000); peer is its node id hex. */
export function setPriority(peer: string, weight: number): Promise<void> {
  return invoke('set_priority', { peer, weight });
}

/** Send a text message; `to` is a node id hex or overlay IPv6 address. Resolves to the message id. */
export function sendMessage(to: string, text: string): Promise<string> {
  return invoke<string>('send_message', { to, text });
}

/** Copy text to the clipboard via Rust (the webview clipboard API is unreliable on WebKitGTK). */
export function copyText(text: string): Promise<void> {
  return invoke('copy_text', { text });
}

/** Ask the Rust side to reconnect to the service now instead of waiting for its backoff. */
export function retry(): Promise<void> {
  return invoke('retry');
}

/** Subscribe to pushed snapshots. */
export function onSnapshot(cb: (s: Snapshot) => void): Promise<UnlistenFn> {
  return listen<Snapshot>('snapshot', (ev) => cb(ev.payload));
}

/** Subscribe to navigation requests (e.g. from the tray menu). */
export function onNavigate(cb: (view: string) => void): Promise<UnlistenFn> {
  return listen<string>('navigate', (ev) => cb(ev.payload));
}

/** Who may open connections to this host: contacts, everyone or nobody. */
export function setIncoming(mode: string): Promise<void> {
  return invoke('set_incoming', { mode });
}

/** Marks a node a contact (trusted by the firewall), or not. */
export function setContact(node: string, contact: boolean): Promise<void> {
  return invoke('set_contact', { node, contact });
}

/** This node's invite link and its QR code (SVG). */
export function invite(): Promise<{ invite: Invite; svg: string }> {
  return invoke('invite');
}

/** Joins the node of an invite link (and trusts it if asked). */
export function join(link: string, contact: boolean): Promise<Invite> {
  return invoke<Invite>('join', { link, contact });
}
