//! How many threads the sentence-embedding model may use, settled once at start-up.
//!
//! candle 0.11 works out its thread count before every matrix product, and unless
//! `RAYON_NUM_THREADS` is set it reads `/proc/cpuinfo` to do so: measured on a 2-core machine,
//! a fifth of the time a short message took. The variable can only be set safely before the
//! process starts, so the binary starts itself once more with it set to the count candle would
//! have found (the physical cores). An operator's own setting is left alone.

/// Starts the running binary again with `RAYON_NUM_THREADS` set, unless it is set already.
/// Returns only if that could not be done; the bot then runs as before, only slower.
pub fn settle_thread_count() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("RAYON_NUM_THREADS").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut again = std::process::Command::new(exe);
        if let Some(name) = args.next() {
            again.arg0(name);
        }
        let _failed = again
            .args(args)
            .env(
                "RAYON_NUM_THREADS",
                num_cpus::get_physical().max(1).to_string(),
            )
            .exec();
    }
}
