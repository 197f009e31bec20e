internal import CRecurAPI

/// The library version. Its one source is `RECUR_VERSION_*` in include/recur.h (read here, by
/// `recur_version_string()`, the CLI's `--version`, the Makefile's pkg-config file and the
/// Python package's metadata).
public enum RecurVersion {
    public static let major = Int(RECUR_VERSION_MAJOR)
    public static let minor = Int(RECUR_VERSION_MINOR)
    public static let patch = Int(RECUR_VERSION_PATCH)
    /// "MAJOR.MINOR.PATCH".
    public static let string: String = RECUR_VERSION_STRING
}
