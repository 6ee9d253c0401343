//! What the window may ask of the Rust side (`invoke(...)` in `ui/src/api.ts`). Errors are
//! strings a person can read; the window shows them beside the control.

use std::sync::Arc;

use hypha_ipc::api;
use tauri::{AppHandle, State};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::conn::Shared;
use crate::model::Snapshot;

/// The current snapshot (the window asks once; later ones are pushed).
#[tauri::command]
pub fn snapshot(shared: State<'_, Arc<Shared>>) -> Snapshot {
    shared.snapshot()
}

/// Sets the share of the uplink forwarded for others, 0–100 %.
#[tauri::command]
pub async fn set_share(shared: State<'_, Arc<Shared>>, percent: u8) -> Result<(), String> {
    shared.set_share(Some(percent), None).await
}

/// Sets the uplink capacity (`100mbit`, `1gbit`, …).
#[tauri::command]
pub async fn set_uplink(shared: State<'_, Arc<Shared>>, uplink: String) -> Result<(), String> {
    shared
        .set_share(None, Some(uplink.trim().to_string()))
        .await
}

/// Adds a configured peer.
#[tauri::command]
pub async fn add_peer(shared: State<'_, Arc<Shared>>, uri: String) -> Result<(), String> {
    shared.change_peer(uri.trim().to_string(), true).await
}

/// Removes a configured peer.
#[tauri::command]
pub async fn remove_peer(shared: State<'_, Arc<Shared>>, uri: String) -> Result<(), String> {
    shared.change_peer(uri, false).await
}

/// Sets a neighbour's forwarding priority weight.
#[tauri::command]
pub async fn set_priority(
    shared: State<'_, Arc<Shared>>,
    peer: String,
    weight: u32,
) -> Result<(), String> {
    shared.set_priority(peer, weight).await
}

/// Queues a text message; returns its id.
#[tauri::command]
pub async fn send_message(
    shared: State<'_, Arc<Shared>>,
    to: String,
    text: String,
) -> Result<String, String> {
    shared.send_text(to, text).await
}

/// Puts text on the clipboard.
#[tauri::command]
pub fn copy_text(app: AppHandle, text: String) -> Result<(), String> {
    app.clipboard().write_text(text).map_err(|e| e.to_string())
}

/// Tries to reach the service now instead of at the next retry.
#[tauri::command]
pub fn retry(shared: State<'_, Arc<Shared>>) {
    shared.retry_now();
}

/// Who may open connections to this host: `contacts`, `everyone` or `nobody`.
#[tauri::command]
pub async fn set_incoming(shared: State<'_, Arc<Shared>>, mode: String) -> Result<(), String> {
    shared
        .change_firewall(api::FirewallChange::Incoming { mode })
        .await
}

/// Marks a node a contact (trusted by the firewall), or not.
#[tauri::command]
pub async fn set_contact(
    shared: State<'_, Arc<Shared>>,
    node: String,
    contact: bool,
) -> Result<(), String> {
    let change = if contact {
        api::FirewallChange::AddContact { node }
    } else {
        api::FirewallChange::RemoveContact { node }
    };
    shared.change_firewall(change).await
}

/// This node's invite link, with its QR code as SVG.
#[tauri::command]
pub async fn invite(shared: State<'_, Arc<Shared>>) -> Result<InviteView, String> {
    let invite = shared.invite().await?;
    let qr = qrcode::QrCode::new(invite.link.as_bytes()).map_err(|e| e.to_string())?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(InviteView { invite, svg })
}

/// Joins the node of a pasted invite link (and trusts it if asked).
#[tauri::command]
pub async fn join(
    shared: State<'_, Arc<Shared>>,
    link: String,
    contact: bool,
) -> Result<api::Invite, String> {
    shared.join(link, contact).await
}

/// An invite for the window: the link and what is in it, and its QR code.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    /// The invite.
    pub invite: api::Invite,
    /// Its QR code, an SVG document.
    pub svg: String,
}
