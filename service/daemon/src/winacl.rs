//! Windows access control, from SDDL strings: who may use the API pipe, and that the state
//! directory (key, token, databases) is the service's and the administrators' alone. Without
//! it the pipe keeps the default descriptor (a non-admin tray cannot write to it) and files in
//! ProgramData inherit "Users: read".
//!
//! The only unsafe code in the service: the Win32 calls that turn SDDL into a descriptor and
//! apply it.
#![allow(unsafe_code)]

use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;

use windows_sys::Win32::Foundation::LocalFree;
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    SECURITY_ATTRIBUTES, SetFileSecurityW,
};

/// The API pipe: SYSTEM and Administrators full control; interactively logged-on users read
/// and write (the tray and the CLI of whoever sits at the machine); nobody else, and no
/// remote clients (refused by the pipe itself).
///
/// Users get `0x12019b`, FILE_GENERIC_READ | FILE_GENERIC_WRITE without FILE_APPEND_DATA:
/// on a pipe that bit is FILE_CREATE_PIPE_INSTANCE, which would let any user add instances of
/// the service's pipe and answer the next client in its name (pipe squatting). `GRGW` would
/// grant it.
pub const PIPE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;IU)";

/// The state directory and everything made in it: SYSTEM and Administrators only, not
/// inherited from ProgramData.
pub const STATE_DIR_SDDL: &str = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

/// A file in the state directory that already existed (made before the directory was locked).
pub const STATE_FILE_SDDL: &str = "D:P(A;;FA;;;SY)(A;;FA;;;BA)";

fn wide(s: impl AsRef<std::ffi::OsStr>) -> Vec<u16> {
    s.as_ref().encode_wide().chain(Some(0)).collect()
}

/// A self-relative security descriptor made from SDDL, freed on drop.
pub struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    /// Parses `sddl`.
    pub fn from_sddl(sddl: &str) -> io::Result<Self> {
        let text = wide(sddl);
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `text` is NUL-terminated and outlives the call; `sd` receives a LocalAlloc'd
        // descriptor that Drop frees.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                text.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Descriptor(sd))
    }

    /// Security attributes pointing at this descriptor (valid while it lives).
    pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.0,
            bInheritHandle: 0,
        }
    }

    /// Replaces the DACL of `path` with this descriptor's, inheritance from the parent cut.
    pub fn apply(&self, path: &Path) -> io::Result<()> {
        let p = wide(path.as_os_str());
        // SAFETY: `p` is NUL-terminated; the descriptor is valid for the call.
        let ok = unsafe {
            SetFileSecurityW(
                p.as_ptr(),
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                self.0,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

// SAFETY: the descriptor is never written after it is made; Win32 only reads it.
unsafe impl Send for Descriptor {}
// SAFETY: as above.
unsafe impl Sync for Descriptor {}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
        unsafe { LocalFree(self.0) };
    }
}

/// Creates `dir` if needed and makes it, and the files already in it, the service's alone.
pub fn lock_state_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    Descriptor::from_sddl(STATE_DIR_SDDL)?.apply(dir)?;
    let file = Descriptor::from_sddl(STATE_FILE_SDDL)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            file.apply(&entry.path())?;
        }
    }
    Ok(())
}

/// Creates a pipe instance with `desc` as its security descriptor.
pub fn create_pipe(
    opts: &tokio::net::windows::named_pipe::ServerOptions,
    path: &Path,
    desc: &Descriptor,
) -> io::Result<tokio::net::windows::named_pipe::NamedPipeServer> {
    let mut attrs = desc.attributes();
    // SAFETY: `attrs` and the descriptor it points at outlive the call, which copies them.
    unsafe {
        opts.create_with_security_attributes_raw(path, &mut attrs as *mut SECURITY_ATTRIBUTES as _)
    }
}
