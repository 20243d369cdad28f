//! The recipients submissions are sealed to, replaceable while the server runs (SIGHUP).
//!
//! Each submission takes the recipients current when it starts and seals every part to them, so
//! a reload never splits one submission between two sets of keys.

use std::sync::{Arc, RwLock};

use sealdrop_core::keys::Recipients;

pub struct Keyring {
    current: RwLock<Arc<Recipients>>,
}

impl Keyring {
    pub fn new(recipients: Recipients) -> Keyring {
        Keyring {
            current: RwLock::new(Arc::new(recipients)),
        }
    }

    /// The recipients to seal a new submission to.
    pub fn current(&self) -> Arc<Recipients> {
        // A poisoned lock still holds a whole Arc: the swap below cannot be half done.
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Seal every later submission to `recipients` instead.
    pub fn replace(&self, recipients: Recipients) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(recipients);
    }
}
