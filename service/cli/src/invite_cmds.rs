//! `hypha invite` and `hypha join`: linking two nodes across networks with one link.

use crate::firewall_cmds::who;

/// Seconds in `90`, `30m`, `12h`, `7d`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 's'),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: a number with s, m, h or d"))?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("{s:?}: out of range"))
}

/// Prints an invite (for `invite`) or what was joined (for `join`).
pub fn print_invite(i: &hypha_ipc::api::Invite, joined: bool) {
    let who = who(&i.node_id, &i.name);
    if joined {
        println!(
            "joining {who} at {} (kept as peers; the ones that do not link are dropped once one does)",
            i.endpoints.join(", ")
        );
        return;
    }
    println!("{}", i.link);
    let until = i.expires_ms.map_or_else(
        || "does not expire".to_string(),
        |ms| format!("expires in {} min", ms.saturating_sub(now_ms()) / 60_000),
    );
    eprintln!(
        "invite to {who}: {} endpoint(s), {until}; the other side runs `hypha join LINK`",
        i.endpoints.len()
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
