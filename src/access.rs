//! Who may read the anonymous counts and the workshop kit on the web server: dashboard links.
//! Each link carries a random token; the data folder keeps only the token's BLAKE3 hash and
//! the one campaign it shows (or `*`, the operator's, for all), in a small text file beside
//! the database. The file, not the database, so the operator's commands work while the bot
//! serves (sled allows one process), and a revoked link stops working at its next request.
//!
//! With replicas on Redis (`--store`), links are kept in Redis instead (the same hash and
//! campaign), so a link made once works on every replica and a revocation reaches them all;
//! the file still holds the operator's own token, which each replica makes for itself.
//!
//! A leaked link shows one campaign's counts and kit, and nothing else; the file alone (or a
//! copy of the data folder, or of Redis) gives no working link.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::store::Store;

/// The dashboard links, one a line: `<hash of the token in hex> <campaign or *>`.
const LINKS_FILE: &str = "dashboards.txt";
/// The operator's own token, for `rightsbot counts` while the bot serves.
const OPERATOR_FILE: &str = "operator.token";
/// Where the serving bot says it listens, for `rightsbot counts` on the same machine.
const ADDRESS_FILE: &str = "serve.addr";

/// What a dashboard link may show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Everything,
    Campaign(String),
}

impl Scope {
    fn tag(&self) -> &str {
        match self {
            Scope::Everything => "*",
            Scope::Campaign(c) => c,
        }
    }

    fn from_tag(tag: &str) -> Scope {
        match tag {
            "*" => Scope::Everything,
            c => Scope::Campaign(c.to_owned()),
        }
    }
}

fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn private_file(path: &Path, append: bool) -> Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A new random token: 32 bytes as hex, too many to guess.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Makes a dashboard link's token for `scope` and keeps its hash in `dir`.
pub fn create(dir: &Path, scope: &Scope) -> Result<String> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    let token = new_token()?;
    let mut file = private_file(&dir.join(LINKS_FILE), true)?;
    writeln!(file, "{} {}", hash(&token), scope.tag())?;
    file.sync_all()?;
    Ok(token)
}

/// Revokes every link of `scope`; returns how many there were.
pub fn revoke(dir: &Path, scope: &Scope) -> Result<usize> {
    let path = dir.join(LINKS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut kept = String::new();
    let mut removed = 0;
    for line in text.lines() {
        if line
            .split_once(' ')
            .is_some_and(|(_, tag)| tag == scope.tag())
        {
            removed += 1;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    // Written beside, then renamed over: a reader never sees half a file.
    let fresh = dir.join(format!("{LINKS_FILE}.new"));
    let mut file = private_file(&fresh, false)?;
    file.write_all(kept.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&fresh, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    if *scope == Scope::Everything {
        let _ = std::fs::remove_file(dir.join(OPERATOR_FILE));
    }
    Ok(removed)
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What `token` may show, or `None` for a wrong or revoked one.
pub fn scope(dir: &Path, token: &str) -> Option<Scope> {
    if !well_formed(token) {
        return None;
    }
    let text = std::fs::read_to_string(dir.join(LINKS_FILE)).ok()?;
    let wanted = hash(token);
    text.lines().find_map(|line| {
        let (h, tag) = line.split_once(' ')?;
        (h == wanted).then(|| Scope::from_tag(tag))
    })
}

/// What `token` may show on the bot that keeps `store`: a link from the data folder's file,
/// or, with replicas, one kept in the shared store.
pub async fn scope_in(store: &Store, token: &str) -> Option<Scope> {
    if let Some(scope) = scope(store.dir(), token) {
        return Some(scope);
    }
    if !well_formed(token) {
        return None;
    }
    store
        .dashboard_link(&hash(token))
        .await
        .map(|tag| Scope::from_tag(&tag))
}

/// Makes a dashboard link's token for `scope` and keeps its hash in the shared store, where
/// every replica finds it.
pub async fn create_shared(store: &Store, scope: &Scope) -> Result<String> {
    let token = new_token()?;
    store.add_dashboard_link(&hash(&token), scope.tag()).await?;
    Ok(token)
}

/// Revokes every link of `scope`, in the shared store and in this data folder.
pub async fn revoke_shared(store: &Store, scope: &Scope) -> Result<usize> {
    let shared = store.revoke_dashboard_links(scope.tag()).await?;
    Ok(shared + revoke(store.dir(), scope)?)
}

/// The operator's token, made and registered on first use. Kept in the data folder (owner
/// only), like the install secret: whoever can read the folder can read the counts anyway.
pub fn operator_token(dir: &Path) -> Result<String> {
    let path = dir.join(OPERATOR_FILE);
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_owned();
        if scope(dir, &token) == Some(Scope::Everything) {
            return Ok(token);
        }
    }
    let token = create(dir, &Scope::Everything)?;
    let mut file = private_file(&path, false)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// Notes where the web server listens, for commands on the same machine.
pub fn write_address(dir: &Path, addr: std::net::SocketAddr) -> Result<()> {
    let mut file = private_file(&dir.join(ADDRESS_FILE), false)?;
    writeln!(file, "{addr}")?;
    Ok(())
}

pub fn remove_address(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(ADDRESS_FILE));
}

/// Where the bot serving this data folder listens, if one says so.
pub fn address(dir: &Path) -> Option<std::net::SocketAddr> {
    std::fs::read_to_string(dir.join(ADDRESS_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn address_file(dir: &Path) -> PathBuf {
    dir.join(ADDRESS_FILE)
}
