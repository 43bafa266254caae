//! Small synchronisation helpers shared by the modules that keep state
//! behind a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering the guard if a panicking thread poisoned it.
/// Every map guarded this way is updated in single steps, so a panic
/// elsewhere cannot leave it half-changed.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
