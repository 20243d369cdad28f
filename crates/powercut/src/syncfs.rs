//! `syncfs` and `sync` for a process on the disk.
//!
//! The kernel never passes these on to a FUSE filesystem (`FUSE_SYNCFS` exists, but only
//! virtiofs is sent it; checked on Linux 6.18: nothing arrives). Sealdrop flushes a batch of
//! blobs with one `syncfs`, so without help the disk would never see that flush, and would
//! rightly lose what it promised.
//!
//! The help: the process is started under a seccomp filter that stops each of its `syncfs` and
//! `sync` calls and notifies this side (`SECCOMP_RET_USER_NOTIF`, Linux 5.5 or later). A thread
//! here makes everything durable, then lets the call go on into the kernel; after a cut it makes
//! the call fail with `EIO` instead, as a dead disk would. Every other system call runs untouched.
//! The process runs with `no_new_privs` set (a filter needs it without CAP_SYS_ADMIN): it cannot
//! gain privileges by running a set-uid program, which the server never does.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::mount::PowerSwitch;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Serves the `syncfs` and `sync` calls of one process started from a [`Command`].
pub struct SyncfsBridge {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl SyncfsBridge {
    /// Make the process `cmd` starts pass each of its `syncfs` and `sync` calls to `switch`
    /// first. Start it once, and drop `cmd` after starting it.
    pub fn attach(cmd: &mut Command, switch: PowerSwitch) -> io::Result<SyncfsBridge> {
        let (ours, theirs) = UnixStream::pair()?;
        let theirs_fd = theirs.as_raw_fd();
        let program = filter();
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed: it makes raw system calls on memory built before
        // the fork (`program`) or on its own stack, and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                let _keep_open = &theirs;
                install_and_send(&program, theirs_fd)
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::Builder::new()
                .name("powercut-syncfs".into())
                .spawn(move || {
                    if let Ok(listener) = receive_fd(&ours) {
                        serve(&listener, &switch, &stop, &served);
                    }
                })?
        };
        Ok(SyncfsBridge {
            stop,
            served,
            thread: Some(thread),
        })
    }

    /// How many `syncfs`/`sync` calls it has served.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for SyncfsBridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The filter: `syncfs` and `sync` go to the listener, everything else is allowed.
fn filter() -> Vec<libc::sock_filter> {
    const LD_ABS_W: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // Offsets in struct seccomp_data.
    let (nr, arch) = (0, 4);
    vec![
        op(LD_ABS_W, 0, 0, arch),
        op(JEQ, 0, 3, AUDIT_ARCH),
        op(LD_ABS_W, 0, 0, nr),
        op(JEQ, 2, 0, libc::SYS_syncfs as u32),
        op(JEQ, 1, 0, libc::SYS_sync as u32),
        op(RET, 0, 0, libc::SECCOMP_RET_ALLOW),
        op(RET, 0, 0, libc::SECCOMP_RET_USER_NOTIF),
    ]
}

/// In the child: install the filter and send its listener to the parent.
fn install_and_send(program: &[libc::sock_filter], socket: RawFd) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut _,
    };
    // SAFETY: plain system calls on valid pointers that outlive them.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        );
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = listener as RawFd;
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // Room for one descriptor, aligned as a cmsghdr wants.
        let mut space = [0u64; 8];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), listener);
        let sent = libc::sendmsg(socket, &msg, 0);
        libc::close(listener);
        libc::close(socket);
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In the parent: receive the listener (an error if the child never sent one).
fn receive_fd(socket: &UnixStream) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u64; 8];
    // SAFETY: recvmsg into buffers that outlive the call; the descriptor is taken only from a
    // SCM_RIGHTS message the kernel filled in.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&space) as _;
        let got = libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if got == 0
            || cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::other("the child sent no seccomp listener"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Answer notifications until the process is gone or the bridge is dropped.
fn serve(listener: &OwnedFd, switch: &PowerSwitch, stop: &AtomicBool, served: &AtomicU64) {
    let fd = listener.as_raw_fd();
    while !stop.load(Ordering::SeqCst) {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready <= 0 {
            continue;
        }
        if poll.revents & libc::POLLIN == 0 {
            // POLLHUP: every task of the process has exited.
            return;
        }
        // SAFETY: the kernel fills a zeroed seccomp_notif, then reads our response.
        unsafe {
            let mut notif: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) != 0 {
                // The caller was killed meanwhile (ENOENT), or a signal: try again.
                continue;
            }
            let mut resp = libc::seccomp_notif_resp {
                id: notif.id,
                val: 0,
                error: 0,
                flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            };
            if switch.is_powered() {
                switch.sync_all();
            }
            // A cut between the check and the flush is caught here too: the disk is gone.
            if !switch.is_powered() {
                resp.error = -libc::EIO;
                resp.flags = 0;
            }
            served.fetch_add(1, Ordering::SeqCst);
            libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp);
        }
    }
}
