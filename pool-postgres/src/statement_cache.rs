//! Prepared statements per connection: a bounded cache, least recently used
//! evicted first (deadpool-postgres's grows without bound: its issue #281).
//!
//! One `Mutex` per connection guards the map; it is never held across an
//! `.await` (the prepare round trip runs on a per-entry `OnceCell`), and a
//! connection is used by one task at a time, so it is uncontended.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use tokio::sync::OnceCell;
use tokio_postgres::{Client as PgClient, Error, Statement, types::Type};

/// Prepared statements each connection keeps when the configuration does not
/// say (deadpool-postgres keeps every statement ever prepared, without bound).
pub const DEFAULT_STATEMENT_CACHE_SIZE: usize = 256;

/// Every connection's cache of one manager, to clear or remove a statement
/// everywhere (after a schema change, say).
#[derive(Default, Debug)]
pub struct StatementCaches {
    caches: Mutex<Vec<Weak<StatementCache>>>,
}

impl StatementCaches {
    pub(crate) fn attach(&self, cache: &Arc<StatementCache>) {
        let mut caches = lock(&self.caches);
        caches.retain(|c| c.strong_count() > 0);
        caches.push(Arc::downgrade(cache));
    }

    pub(crate) fn detach(&self, cache: &Arc<StatementCache>) {
        let cache = Arc::downgrade(cache);
        lock(&self.caches).retain(|c| !c.ptr_eq(&cache) && c.strong_count() > 0);
    }

    fn each(&self, f: impl Fn(&StatementCache)) {
        let caches: Vec<_> = lock(&self.caches)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for cache in caches {
            f(&cache);
        }
    }

    /// Empties every connection's cache.
    pub fn clear(&self) {
        self.each(StatementCache::clear);
    }

    /// Removes one statement from every connection's cache.
    pub fn remove(&self, query: &str, types: &[Type]) {
        self.each(|c| drop(c.remove(query, types)));
    }
}

struct Entry {
    types: Vec<Type>,
    cell: Arc<OnceCell<Statement>>,
    last_used: u64,
}

struct Lru {
    /// query text -> one entry per parameter-type list (almost always one).
    map: HashMap<String, Vec<Entry>>,
    len: usize,
    tick: u64,
    capacity: usize,
}

impl Lru {
    fn evict_oldest(&mut self) {
        let Some((query, i)) = self
            .map
            .iter()
            .flat_map(|(q, es)| es.iter().enumerate().map(move |(i, e)| (q, i, e.last_used)))
            .min_by_key(|(_, _, used)| *used)
            .map(|(q, i, _)| (q.clone(), i))
        else {
            return;
        };
        self.take(&query, i);
    }

    fn take(&mut self, query: &str, i: usize) -> Option<Entry> {
        let entries = self.map.get_mut(query)?;
        let entry = entries.swap_remove(i);
        if entries.is_empty() {
            self.map.remove(query);
        }
        self.len -= 1;
        Some(entry)
    }

    fn position(&self, query: &str, types: &[Type]) -> Option<usize> {
        self.map.get(query)?.iter().position(|e| e.types == types)
    }
}

/// One connection's prepared statements, at most `capacity` of them.
pub struct StatementCache {
    lru: Mutex<Lru>,
}

impl fmt::Debug for StatementCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatementCache")
            .field("size", &self.size())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            lru: Mutex::new(Lru {
                map: HashMap::new(),
                len: 0,
                tick: 0,
                capacity: capacity.max(1),
            }),
        }
    }

    /// Prepared statements held.
    pub fn size(&self) -> usize {
        lock(&self.lru)
            .map
            .values()
            .flatten()
            .filter(|e| e.cell.initialized())
            .count()
    }

    /// The most statements this cache holds.
    pub fn capacity(&self) -> usize {
        lock(&self.lru).capacity
    }

    /// Empties the cache (the server forgets a statement when its last
    /// user drops it).
    pub fn clear(&self) {
        let mut lru = lock(&self.lru);
        lru.map.clear();
        lru.len = 0;
    }

    /// Removes one statement and returns it if it was prepared.
    pub fn remove(&self, query: &str, types: &[Type]) -> Option<Statement> {
        let mut lru = lock(&self.lru);
        let i = lru.position(query, types)?;
        lru.take(query, i)?.cell.get().cloned()
    }

    /// Removes `statement` if it came from this cache; returns its query
    /// text and parameter types.
    pub(crate) fn evict(&self, statement: &Statement) -> Option<(String, Vec<Type>)> {
        let mut lru = lock(&self.lru);
        let (query, i) = lru.map.iter().find_map(|(q, es)| {
            es.iter()
                .position(|e| e.cell.get().is_some_and(|s| same_statement(s, statement)))
                .map(|i| (q.clone(), i))
        })?;
        let entry = lru.take(&query, i)?;
        Some((query, entry.types))
    }

    /// The cached statement for `query`, prepared on a miss.
    ///
    /// # Errors
    /// The server's error when preparing fails (nothing is cached then).
    pub async fn prepare(&self, client: &PgClient, query: &str) -> Result<Statement, Error> {
        self.prepare_typed(client, query, &[]).await
    }

    /// The cached statement for `query` with these parameter types,
    /// prepared on a miss.
    ///
    /// # Errors
    /// The server's error when preparing fails (nothing is cached then).
    pub async fn prepare_typed(
        &self,
        client: &PgClient,
        query: &str,
        types: &[Type],
    ) -> Result<Statement, Error> {
        let cell = self.cell(query, types);
        let result = cell
            .get_or_try_init(|| client.prepare_typed(query, types))
            .await
            .cloned();
        if result.is_err() {
            // A failed prepare leaves no entry behind to count against the
            // capacity (unless another task filled it meanwhile).
            let mut lru = lock(&self.lru);
            if let Some(i) = lru.position(query, types) {
                let ours = lru.map[query][i].cell.clone();
                if Arc::ptr_eq(&ours, &cell) && !ours.initialized() {
                    lru.take(query, i);
                }
            }
        }
        result
    }

    fn cell(&self, query: &str, types: &[Type]) -> Arc<OnceCell<Statement>> {
        let mut lru = lock(&self.lru);
        lru.tick += 1;
        let tick = lru.tick;
        if let Some(i) = lru.position(query, types) {
            let entry = &mut lru.map.get_mut(query).expect("position found it")[i];
            entry.last_used = tick;
            return entry.cell.clone();
        }
        if lru.len >= lru.capacity {
            lru.evict_oldest();
        }
        let cell = Arc::new(OnceCell::new());
        lru.map.entry(query.to_owned()).or_default().push(Entry {
            types: types.to_vec(),
            cell: cell.clone(),
            last_used: tick,
        });
        lru.len += 1;
        cell
    }
}

/// tokio-postgres's `Statement` is a handle to shared data with no equality:
/// two handles are the same statement when they share their column (or, for
/// a statement without columns, parameter) list.
fn same_statement(a: &Statement, b: &Statement) -> bool {
    if !a.columns().is_empty() || !b.columns().is_empty() {
        std::ptr::eq(a.columns().as_ptr(), b.columns().as_ptr())
    } else {
        !a.params().is_empty() && std::ptr::eq(a.params().as_ptr(), b.params().as_ptr())
    }
}

/// The caches hold no invariant a panic could break half-way (each update is
/// one map operation), so a poisoned lock is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
