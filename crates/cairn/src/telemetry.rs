use crate::config::{Config, LogFormat};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};

/// Logs go to standard error, so standard output carries only command results. Lines are
/// written by a thread of their own, so a request does not wait on a write to the terminal
/// or the log collector's pipe; when that thread falls behind, logging waits rather than
/// dropping lines. That thread buffers what is queued and writes it out once the queue is
/// empty, so a busy server makes one write for many lines, and a quiet one still writes
/// each line at once. Everything logged is written out when the returned guard drops.
pub fn init(config: &Config) -> WorkerGuard {
    let filter = config.log.env_filter();
    let stderr = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(stderr);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    guard
}
