//! The service ids known to exist, which answer "no such service" from memory while the
//! listener vouches for them.

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

/// The service ids known to exist. Complete (so an id outside it is answered "no such
/// service" without a query) only while the invalidation listener is connected and has
/// loaded it; otherwise it holds the ids found so far, which skip the unknown-id lane.
#[derive(Default)]
pub(super) struct Directory {
    ids: RwLock<HashSet<Uuid>>,
    pub(super) complete: AtomicBool,
}

impl Directory {
    pub(super) fn contains(&self, id: Uuid) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
    }

    pub(super) fn insert(&self, id: Uuid) {
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        if ids.insert(id) {
            crate::metrics::gauge(crate::metrics::DIRECTORY_SERVICES, ids.len() as f64);
        }
    }

    pub(super) fn knows_absent(&self, id: Uuid) -> bool {
        self.complete.load(Ordering::Acquire) && !self.contains(id)
    }

    /// Replaces the ids with every service id; `complete` says whether the set may answer
    /// "no such service" (only while notifications keep it current).
    pub(super) fn load(&self, ids: HashSet<Uuid>, complete: bool) {
        crate::metrics::gauge(crate::metrics::DIRECTORY_SERVICES, ids.len() as f64);
        *self.ids.write().unwrap_or_else(|e| e.into_inner()) = ids;
        self.complete.store(complete, Ordering::Release);
        crate::metrics::gauge(
            crate::metrics::DIRECTORY_COMPLETE,
            f64::from(u8::from(complete)),
        );
    }

    /// Stops answering "no such service" from memory.
    pub(super) fn distrust(&self) {
        self.complete.store(false, Ordering::Release);
        crate::metrics::gauge(crate::metrics::DIRECTORY_COMPLETE, 0.0);
    }

    pub(super) fn len(&self) -> usize {
        self.ids.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
