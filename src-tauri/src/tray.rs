//! The tray icon and its menu: state at a glance, the own address, sharing presets.

use std::sync::Arc;
use std::sync::Mutex;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, Wry};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::conn::Shared;
use crate::model::{Snapshot, TrayState};

/// Sharing presets offered in the menu, %.
const PRESETS: [u8; 5] = [0, 10, 25, 50, 100];

/// What the tray shows: state, status line, address, share.
type Shown = (TrayState, String, String, Option<u8>);

/// Handles to what changes in the tray.
pub struct Tray {
    icon: TrayIcon,
    status: MenuItem<Wry>,
    address: MenuItem<Wry>,
    presets: Vec<(u8, CheckMenuItem<Wry>)>,
    /// What was last shown, so that unchanged snapshots cost nothing.
    shown: Mutex<Option<Shown>>,
}

fn icon(state: TrayState) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        TrayState::Online => include_bytes!("../../assets/icons/tray-online.png"),
        TrayState::Offline => include_bytes!("../../assets/icons/tray-offline.png"),
        TrayState::ServiceDown => include_bytes!("../../assets/icons/tray-down.png"),
    };
    Image::from_bytes(bytes).expect("embedded icon is a valid PNG")
}

/// Shows the main window, optionally on a given view.
pub fn open_window(app: &AppHandle, view: Option<&str>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if let Some(v) = view {
        let _ = app.emit("navigate", v);
    }
}

impl Tray {
    /// Creates the tray icon with its menu.
    pub fn build(app: &AppHandle, shared: Arc<Shared>) -> tauri::Result<Tray> {
        let status =
            MenuItem::with_id(app, "status", "Connecting to hyphad…", false, None::<&str>)?;
        let address = MenuItem::with_id(app, "address", "Address: unknown", false, None::<&str>)?;
        let mut presets = Vec::new();
        for p in PRESETS {
            let item = CheckMenuItem::with_id(
                app,
                format!("share-{p}"),
                format!("{p} %"),
                false,
                false,
                None::<&str>,
            )?;
            presets.push((p, item));
        }
        let preset_refs: Vec<&dyn tauri::menu::IsMenuItem<Wry>> = presets
            .iter()
            .map(|(_, i)| i as &dyn tauri::menu::IsMenuItem<Wry>)
            .collect();
        let share = Submenu::with_id_and_items(
            app,
            "share",
            "Share bandwidth for others",
            true,
            &preset_refs,
        )?;
        let open = MenuItem::with_id(app, "open", "Open Hypha", true, None::<&str>)?;
        let messages = MenuItem::with_id(app, "messages", "Messages…", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Hypha tray", true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &address,
                &PredefinedMenuItem::separator(app)?,
                &share,
                &open,
                &messages,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let icon = TrayIconBuilder::with_id("main")
            .icon(icon(TrayState::ServiceDown))
            .tooltip("Hypha")
            .menu(&menu)
            .show_menu_on_left_click(true)
            .on_menu_event(move |app, ev| {
                let id = ev.id().as_ref();
                match id {
                    "open" => open_window(app, Some("status")),
                    "messages" => open_window(app, Some("messages")),
                    "quit" => app.exit(0),
                    "address" => {
                        let snap = shared.snapshot();
                        if let Some(s) = snap.status
                            && let Err(e) = app.clipboard().write_text(s.address)
                        {
                            tracing::warn!("clipboard: {e}");
                        }
                    }
                    _ => {
                        if let Some(p) = id.strip_prefix("share-").and_then(|p| p.parse().ok()) {
                            let shared = shared.clone();
                            tauri::async_runtime::spawn(async move {
                                if let Err(e) = shared.set_share(Some(p), None).await {
                                    tracing::warn!("share {p} %: {e}");
                                }
                            });
                        }
                    }
                }
            })
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            address,
            presets,
            shown: Mutex::new(None),
        })
    }

    /// Brings the icon and menu in line with a snapshot.
    pub fn show(&self, snap: &Snapshot) {
        let state = snap.tray_state();
        let line = snap.status_line();
        let addr = snap
            .status
            .as_ref()
            .map(|s| s.address.clone())
            .unwrap_or_default();
        let share = snap.sharing.as_ref().map(|s| s.percent);
        let now = (state, line.clone(), addr.clone(), share);
        {
            let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
            if shown.as_ref() == Some(&now) {
                return;
            }
            *shown = Some(now);
        }
        let _ = self.icon.set_icon(Some(icon(state)));
        let _ = self.icon.set_tooltip(Some(format!("Hypha: {line}")));
        let _ = self.status.set_text(&line);
        if addr.is_empty() {
            let _ = self.address.set_text("Address: unknown");
            let _ = self.address.set_enabled(false);
        } else {
            let _ = self.address.set_text(format!("Copy address {addr}"));
            let _ = self.address.set_enabled(true);
        }
        for (p, item) in &self.presets {
            let _ = item.set_enabled(share.is_some());
            let _ = item.set_checked(share == Some(*p));
        }
    }
}
