//! `hypha-tray`: the desktop face of Hypha. A tray icon shows whether the node is online; the
//! window shows status, peers, routes, messages and sharing. Everything comes from `hyphad`'s
//! local API (socket from `HYPHA_SOCKET`, else the system or per-user path), so the app runs
//! as the desktop user and needs no privileges of its own.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod conn;
mod model;
mod tray;

use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, WindowEvent};
#[cfg(feature = "notifications")]
use tauri_plugin_notification::NotificationExt;

use conn::{Notifier, Shared};
use model::Snapshot;

/// Sends snapshots to the window and the tray; incoming messages to the desktop.
struct AppNotifier {
    app: AppHandle,
    tray: Option<tray::Tray>,
}

impl Notifier for AppNotifier {
    fn snapshot(&self, snap: &Snapshot) {
        if let Err(e) = self.app.emit("snapshot", snap) {
            tracing::debug!("emit snapshot: {e}");
        }
        if let Some(t) = &self.tray {
            t.show(snap);
        }
    }

    #[cfg(feature = "notifications")]
    fn incoming(&self, from: &str, text: Option<&str>, size: usize) {
        let body = match text {
            Some(t) => t.chars().take(200).collect(),
            None => format!("{size} bytes"),
        };
        if let Err(e) = self
            .app
            .notification()
            .builder()
            .title(format!("Message from {from}"))
            .body(body)
            .show()
        {
            // No notification daemon (e.g. a bare X session): the window still lists it.
            tracing::debug!("notification: {e}");
        }
    }

    #[cfg(not(feature = "notifications"))]
    fn incoming(&self, _from: &str, _text: Option<&str>, _size: usize) {}
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HYPHA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let socket = hypha_ipc::paths::socket();
    let texts = directories::ProjectDirs::from("org", "hypha", "Hypha")
        .map(|d| d.data_local_dir().join("texts.json"));
    let shared = Arc::new(Shared::new(socket, texts));
    let for_setup = shared.clone();
    let builder = tauri::Builder::default();
    #[cfg(feature = "notifications")]
    let builder = builder.plugin(tauri_plugin_notification::init());
    let result = builder
        .plugin(tauri_plugin_clipboard_manager::init())
        .manage(shared)
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::set_share,
            commands::set_uplink,
            commands::add_peer,
            commands::remove_peer,
            commands::set_priority,
            commands::send_message,
            commands::copy_text,
            commands::retry,
            commands::set_incoming,
            commands::set_contact,
            commands::invite,
            commands::join,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            // Without a tray host (some desktops, bare X) the app still works as a window.
            let tray = match tray::Tray::build(&handle, for_setup.clone()) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!("no tray icon: {e}");
                    None
                }
            };
            let has_tray = tray.is_some();
            app.manage(HasTray(has_tray));
            for_setup.set_notifier(Box::new(AppNotifier { app: handle, tray }));
            tauri::async_runtime::spawn(conn::run(for_setup.clone()));
            Ok(())
        })
        .on_window_event(|window, event| {
            // With a tray icon, closing the window only hides it; the tray's Quit ends the app.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.state::<HasTray>().0
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("hypha-tray: {e}");
        std::process::exit(1);
    }
}

/// Whether a tray icon exists (decides what closing the window does).
struct HasTray(bool);
