//! A disk that loses power: a FUSE filesystem for Sealdrop's tests (placeholder doc).

pub mod disk;
mod fs;
pub mod image;
mod mount;
mod syncfs;

pub use disk::Flushes;
pub use mount::{check_fuse, MountError, Mounted, PowerSwitch};
pub use syncfs::SyncfsBridge;
