// Support/: the engine's shared ground (standard library only).

/// Zero-padded lowercase hexadecimal, for fingerprints and checksums in files, messages and the
/// CLI (one implementation; `package` so the CLI uses it too).
package enum Hex {
    /// `width` hex digits of `v`, zero-padded, no prefix ("00ab…"): fingerprints in headers and
    /// `recur inspect`.
    package static func digits(_ v: UInt64, width: Int = 16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// "0x" + `digits`: values quoted in error messages.
    package static func prefixed(_ v: UInt64, width: Int = 16) -> String { "0x" + digits(v, width: width) }

    /// "0x" + 8 digits: a CRC-32, Adler-32 or flag word.
    package static func prefixed(_ v: UInt32) -> String { prefixed(UInt64(v), width: 8) }
}
