//! Mounting a disk, cutting its power, and booting again from what survived.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use fuser::{BackgroundSession, Config, MountOption};

use crate::disk::{Disk, Flushes};
use crate::fs::PowerCutFs;
use crate::image::Image;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error(
        "FUSE is not usable here: {0}. Install the Debian package `fuse3` (it provides \
         fusermount3) and run where /dev/fuse exists and can be opened (in a container: \
         --device /dev/fuse --cap-add SYS_ADMIN)"
    )]
    Unavailable(String),
    #[error("mounting the power-cut filesystem at {} failed; see fuse3 and /dev/fuse", .0.display())]
    Mount(PathBuf, #[source] io::Error),
}

/// Check that FUSE can be used: `/dev/fuse` opens and `fusermount3` is installed.
pub fn check_fuse() -> Result<(), MountError> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        return Err(MountError::Unavailable(format!(
            "/dev/fuse cannot be opened ({e})"
        )));
    }
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("fusermount3").is_file()))
        .unwrap_or(false);
    if !found {
        return Err(MountError::Unavailable(
            "fusermount3 is not on the PATH".into(),
        ));
    }
    Ok(())
}

/// A handle on a mounted disk's power, for other threads: cut it, or flush everything (what
/// a `syncfs` the kernel does not pass on to FUSE would do; see [`crate::syncfs`]).
#[derive(Clone)]
pub struct PowerSwitch {
    disk: Arc<Mutex<Disk>>,
}

impl PowerSwitch {
    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cut the power: every later operation fails with `EIO`, and all that was not yet durable
    /// is lost. Between two requests, at one instant.
    pub fn cut(&self) {
        self.disk().cut();
    }

    pub fn is_powered(&self) -> bool {
        self.disk().is_powered()
    }

    /// Make everything durable, as `syncfs` does. Ignored once the power is cut.
    pub fn sync_all(&self) {
        let _ = self.disk().sync_all();
    }

    /// The flushes that reached the disk since it was mounted.
    pub fn flushes(&self) -> Flushes {
        self.disk().flushes()
    }
}

/// A [`Disk`] mounted at a directory. Unmounted when dropped.
pub struct Mounted {
    switch: PowerSwitch,
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
}

impl Mounted {
    /// Make an empty filesystem (owned by the calling user) and mount it at `mountpoint`, an
    /// existing empty directory.
    pub fn fresh(mountpoint: &Path) -> Result<Mounted, MountError> {
        let disk = Disk::new(
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        Mounted::mount(disk, mountpoint)
    }

    fn mount(disk: Disk, mountpoint: &Path) -> Result<Mounted, MountError> {
        check_fuse()?;
        let disk = Arc::new(Mutex::new(disk));
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("sealdrop-powercut".into()),
            MountOption::Subtype("powercut".into()),
            // The kernel's own permission checks, as on a disk filesystem.
            MountOption::DefaultPermissions,
        ];
        let fs = PowerCutFs::new(disk.clone());
        let session = fuser::spawn_mount(fs, mountpoint, &config)
            .map_err(|e| MountError::Mount(mountpoint.to_owned(), e))?;
        Ok(Mounted {
            switch: PowerSwitch { disk },
            session: Some(session),
            mountpoint: mountpoint.to_owned(),
        })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    pub fn switch(&self) -> PowerSwitch {
        self.switch.clone()
    }

    /// Cut the power (see [`PowerSwitch::cut`]).
    pub fn cut(&self) {
        self.switch.cut();
    }

    /// What a reboot would find now: the durable image, without what no name reaches.
    pub fn durable_image(&self) -> Image {
        self.switch.disk().after_power_cut()
    }

    /// Cut the power if it is still on, unmount, and mount again what survived, as a machine
    /// booting after the cut would find it. Processes using the old mount must have ended.
    pub fn reboot(mut self) -> Result<Mounted, MountError> {
        self.cut();
        let image = self.durable_image();
        self.unmount();
        Mounted::mount(Disk::boot(image), &self.mountpoint)
    }

    fn unmount(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if session.umount_and_join().is_err() {
            // Still in use by something the caller forgot: detach it, so the directory is free
            // for the next mount; the old connection ends when its last user lets go.
            let _ = rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.unmount();
    }
}
