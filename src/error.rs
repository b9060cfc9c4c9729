//! User-facing errors: bad input exits with code 2 and a message that names
//! the problem and the fix.

use std::fmt;

/// An error caused by the user's input (config, flags, files). The CLI maps it
/// to exit code 2; every other error is an internal failure (exit code 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand: `Err(usage!("..."))`.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        anyhow::Error::new($crate::error::UsageError(format!($($arg)*)))
    };
}

/// True when the error chain holds a [`UsageError`].
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<UsageError>())
}

/// Opens a file named by the user (or found in a run directory) for reading:
/// only a regular file, so that a device or FIFO (`/dev/zero`, a symlink to
/// one) is an error instead of a read without end.
pub fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a directory, device or FIFO)",
        ));
    }
    std::fs::File::open(path)
}

/// [`open_regular`], read whole as text.
pub fn read_regular(path: &std::path::Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut open_regular(path)?, &mut text)?;
    Ok(text)
}
