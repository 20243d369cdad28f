//! The rule that no upload slot is held by a client that is not sending: a request body must
//! deliver at least `min_bytes_per_sec` on average over every window of `window` seconds (after
//! its first window). One that falls behind is cut off; its partial upload is deleted as any
//! interrupted upload is.
//!
//! A real upload over Tor runs at tens of KB/s; the default (4 KiB/s over 30 s) passes one at a
//! fifth of that, pauses of many seconds included, and frees a silent client's slot within the
//! window.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

/// Bytes counted per bucket of about a second, over one window.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    window: Duration,
    needed: u64,
    buckets: VecDeque<(Instant, u64)>,
}

impl Progress {
    pub fn new(now: Instant, min_bytes_per_sec: u64, window: Duration) -> Progress {
        Progress {
            started: now,
            window,
            needed: min_bytes_per_sec.saturating_mul(window.as_secs().max(1)),
            buckets: VecDeque::new(),
        }
    }

    pub fn record(&mut self, now: Instant, bytes: u64) {
        match self.buckets.back_mut() {
            Some((at, n)) if now.duration_since(*at) < Duration::from_secs(1) => *n += bytes,
            _ => self.buckets.push_back((now, bytes)),
        }
        while self
            .buckets
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= self.window)
        {
            self.buckets.pop_front();
        }
    }

    /// When the body falls behind if nothing more arrives; `now` or earlier means it already has.
    pub fn deadline(&self, now: Instant) -> Instant {
        let first_check = (self.started + self.window).max(now);
        // Bytes still inside the window at `first_check`, oldest first.
        let live: Vec<_> = self
            .buckets
            .iter()
            .filter(|(at, _)| *at + self.window > first_check)
            .collect();
        let mut sum: u64 = live.iter().map(|(_, n)| n).sum();
        if sum < self.needed {
            return first_check;
        }
        // As time passes, the oldest buckets leave the window one by one.
        for (at, n) in live {
            sum -= n;
            if sum < self.needed {
                return *at + self.window;
            }
        }
        first_check
    }
}

/// A request body that ends in an error, and raises `cut`, when it falls behind the rule.
pub struct Progressing<S> {
    inner: S,
    progress: Progress,
    timer: Pin<Box<Sleep>>,
    cut: Arc<AtomicBool>,
    /// Told of every piece's size (the upload slot's view of the body).
    on_bytes: Box<dyn FnMut(u64) + Send>,
}

impl<S> Progressing<S> {
    pub fn new(
        inner: S,
        min_bytes_per_sec: u64,
        window: Duration,
        cut: Arc<AtomicBool>,
        on_bytes: Box<dyn FnMut(u64) + Send>,
    ) -> Self {
        let now = Instant::now();
        let progress = Progress::new(now, min_bytes_per_sec, window);
        let timer = Box::pin(tokio::time::sleep_until(progress.deadline(now)));
        Progressing {
            inner,
            progress,
            timer,
            cut,
            on_bytes,
        }
    }
}

impl<S> Stream for Progressing<S>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            if let Some(Ok(bytes)) = &item {
                let now = Instant::now();
                this.progress.record(now, bytes.len() as u64);
                (this.on_bytes)(bytes.len() as u64);
                this.timer.as_mut().reset(this.progress.deadline(now));
            }
            return Poll::Ready(item);
        }
        // Nothing arrived: has the body fallen behind?
        loop {
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            let deadline = this.progress.deadline(now);
            if deadline <= now {
                this.cut.store(true, Ordering::SeqCst);
                return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body fell behind the minimum rate",
                )))));
            }
            this.timer.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(30);

    #[test]
    fn silence_fails_at_the_end_of_the_first_window() {
        let t0 = Instant::now();
        let p = Progress::new(t0, 100, W);
        assert_eq!(p.deadline(t0), t0 + W);
    }

    #[test]
    fn a_steady_body_at_the_rate_never_falls_behind() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0, 100, W);
        for s in 0..600 {
            let now = t0 + Duration::from_secs(s);
            p.record(now, 100);
            assert!(p.deadline(now) > now, "second {s}");
        }
    }

    #[test]
    fn a_burst_then_silence_lasts_one_window_after_the_burst() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0, 100, W);
        let burst = t0 + Duration::from_secs(40);
        p.record(burst, 1_000_000);
        assert_eq!(p.deadline(burst), burst + W);
    }

    #[test]
    fn a_trickle_below_the_rate_falls_behind() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0, 100, W);
        let mut fell_behind = None;
        for s in 0..120 {
            let now = t0 + Duration::from_secs(s);
            p.record(now, 50);
            if p.deadline(now) <= now + Duration::from_secs(1) {
                fell_behind = Some(s);
                break;
            }
        }
        let s = fell_behind.expect("half the rate must fail");
        assert!((29..=31).contains(&s), "at the first window's end, not {s}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_is_cut_and_says_so() {
        use std::future::poll_fn;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, axum::Error>>(4);
        let inner = tokio_stream_from(rx);
        let cut = Arc::new(AtomicBool::new(false));
        let mut body = Progressing::new(
            inner,
            1000,
            Duration::from_secs(10),
            cut.clone(),
            Box::new(|_| {}),
        );
        tx.send(Ok(Bytes::from(vec![0; 20_000]))).await.unwrap();
        let first = poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await;
        assert!(matches!(first, Some(Ok(_))));
        // Then silence: the burst covers two windows' worth but leaves the window at 20 s.
        let next = poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await;
        assert!(matches!(next, Some(Err(_))));
        assert!(cut.load(Ordering::SeqCst));
        drop(tx);
    }

    /// A receiver as a `Stream`, without another crate.
    fn tokio_stream_from(
        rx: tokio::sync::mpsc::Receiver<Result<Bytes, axum::Error>>,
    ) -> impl Stream<Item = Result<Bytes, axum::Error>> + Unpin {
        struct Rx(tokio::sync::mpsc::Receiver<Result<Bytes, axum::Error>>);
        impl Stream for Rx {
            type Item = Result<Bytes, axum::Error>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                self.0.poll_recv(cx)
            }
        }
        Rx(rx)
    }
}
