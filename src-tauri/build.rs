//! Tauri's build step: embeds the config, icons and capability files.
fn main() {
    tauri_build::build()
}
