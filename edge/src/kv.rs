// Durable key-value storage on a Fastly KV store, with the semantics of the
// native host's Storage (include/habanero/storage.h) as far as the store
// allows them.
//
// Keys: "<namespace>/<base64url(key)>", so arbitrary key bytes fit Fastly's
// key rules (no '#', '?', control characters, "./" …) and every namespace is a
// prefix. Expiry: the entry's metadata holds its deadline in milliseconds
// since the epoch ("" = never); an entry past it reads as absent, exactly as
// on the server. The store's own TTL (at least 60 s, Fastly's granularity)
// reclaims it later. A taken entry becomes a tombstone (metadata "t") before
// it is deleted.
//
// Consistency: Fastly's KV store is eventually consistent across POPs, and
// compare-and-set (if-generation-match) and take are atomic only within what
// one POP sees. docs/edge.md says what that means for codes and refresh tokens.
use base64::Engine as _;
use fastly::kv_store::{InsertMode, KVStore, KVStoreError};
use std::time::Duration;

const TOMBSTONE: &str = "t";
const MIN_STORE_TTL: Duration = Duration::from_secs(60);

pub struct Kv {
    store: Option<KVStore>,
    name: &'static str,
}

pub type KvResult<T> = Result<T, String>;

struct Entry {
    value: Vec<u8>,
    generation: u64,
    live: bool,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn store_key(ns: &str, key: &[u8]) -> String {
    let mut k = String::with_capacity(ns.len() + 1 + key.len() * 4 / 3 + 4);
    k.push_str(ns);
    k.push('/');
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(key, &mut k);
    k
}

impl Kv {
    /// Opens the named store; a missing store makes every call UNAVAILABLE
    /// (with its name in the log), never a crash.
    pub fn open(name: &'static str) -> Kv {
        let store = match KVStore::open(name) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kv store {name}: {e}");
                None
            }
        };
        Kv { store, name }
    }

    fn store(&self) -> KvResult<&KVStore> {
        self.store
            .as_ref()
            .ok_or_else(|| format!("KV store {} is not linked to this service", self.name))
    }

    fn lookup(&self, ns: &str, key: &[u8]) -> KvResult<Option<Entry>> {
        let store = self.store()?;
        match store.lookup(&store_key(ns, key)) {
            Ok(mut found) => {
                let meta = found.metadata().map(|m| String::from_utf8_lossy(&m).into_owned());
                let meta = meta.unwrap_or_default();
                let live = if meta == TOMBSTONE {
                    false
                } else if meta.is_empty() {
                    true
                } else {
                    meta.parse::<i64>().map(|deadline| now_ms() < deadline).unwrap_or(true)
                };
                let generation = found.current_generation();
                Ok(Some(Entry { value: found.take_body_bytes(), generation, live }))
            }
            Err(KVStoreError::ItemNotFound) => Ok(None),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    fn write(
        &self,
        ns: &str,
        key: &[u8],
        value: &[u8],
        ttl_ms: i64,
        condition: Condition,
    ) -> KvResult<bool> {
        let store = self.store()?;
        let mut b = store.build_insert();
        if ttl_ms > 0 {
            b = b
                .metadata(&(now_ms().saturating_add(ttl_ms)).to_string())
                .time_to_live(Duration::from_millis(ttl_ms as u64).max(MIN_STORE_TTL));
        }
        b = match condition {
            Condition::None => b,
            Condition::Absent => b.mode(InsertMode::Add),
            Condition::Generation(g) => b.if_generation_match(g),
        };
        match b.execute(&store_key(ns, key), value.to_vec()) {
            Ok(()) => Ok(true),
            Err(KVStoreError::ItemPreconditionFailed) => Ok(false),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    pub fn get(&self, ns: &str, key: &[u8]) -> KvResult<Option<Vec<u8>>> {
        Ok(self.lookup(ns, key)?.filter(|e| e.live).map(|e| e.value))
    }

    pub fn put(&self, ns: &str, key: &[u8], value: &[u8], ttl_ms: i64) -> KvResult<()> {
        self.write(ns, key, value, ttl_ms, Condition::None).map(|_| ())
    }

    pub fn remove(&self, ns: &str, key: &[u8]) -> KvResult<()> {
        match self.store()?.delete(&store_key(ns, key)) {
            Ok(()) | Err(KVStoreError::ItemNotFound) => Ok(()),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    /// Reads and removes: the entry is first replaced by a tombstone on the
    /// condition that its generation is still the one read, so of two takers
    /// that see the same generation only one wins.
    pub fn take(&self, ns: &str, key: &[u8]) -> KvResult<Option<Vec<u8>>> {
        let Some(e) = self.lookup(ns, key)? else { return Ok(None) };
        if !e.live {
            return Ok(None);
        }
        let store = self.store()?;
        let won = store
            .build_insert()
            .metadata(TOMBSTONE)
            .time_to_live(MIN_STORE_TTL)
            .if_generation_match(e.generation)
            .execute(&store_key(ns, key), Vec::<u8>::new());
        match won {
            Ok(()) => {}
            Err(KVStoreError::ItemPreconditionFailed) => return Ok(None),
            Err(err) => return Err(format!("{}: {err}", self.name)),
        }
        let _ = store.delete(&store_key(ns, key)); // the tombstone expires anyway
        Ok(Some(e.value))
    }

    /// Writes `value` only if the current value equals `expected` (None: only
    /// if absent or expired). Ok(false) when another value was found or a
    /// concurrent writer won.
    pub fn compare_and_set(
        &self,
        ns: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        value: &[u8],
        ttl_ms: i64,
    ) -> KvResult<bool> {
        let current = self.lookup(ns, key)?;
        let condition = match (&current, expected) {
            (None, None) => Condition::Absent,
            (None, Some(_)) => return Ok(false),
            (Some(e), None) if !e.live => Condition::Generation(e.generation),
            (Some(_), None) => return Ok(false),
            (Some(e), Some(want)) if e.live && e.value == want => Condition::Generation(e.generation),
            (Some(_), Some(_)) => return Ok(false),
        };
        self.write(ns, key, value, ttl_ms, condition)
    }
}

enum Condition {
    None,
    Absent,
    Generation(u64),
}
