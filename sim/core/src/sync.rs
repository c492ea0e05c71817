//! Small synchronisation helpers shared by every part of the world (provider, intake,
//! trace), so that no part borrows them from another's internals.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a holder panicked (the data stays usable; every
/// writer under these locks leaves them consistent or rolls back, see `provider::accept::Work`).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
