/// A strict JSON subset for checkpoint headers (docs/FORMAT.md, "Header"):
/// one object at top level starting at byte 0, no BOM, nesting depth <= 16,
/// duplicate keys rejected, no NaN/Infinity, nothing after the object but
/// whitespace. Numbers are kept as integers when they are integers in Int64 range,
/// and as `.nonInteger` otherwise (the schema then rejects them).
package enum JSON: Equatable {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case integer(Int64)
    case nonInteger(String)  // fraction, exponent or out-of-range integer: kept as text
    case bool(Bool)
    case null

    package static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let x), .array(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.nonInteger(let x), .nonInteger(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    static let maxDepth = 16

    // MARK: - Parsing

    /// Parses `bytes` (already validated as UTF-8).
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(RecurError) -> JSON {
        var p = Parser(bytes: bytes)
        guard p.peek() == UInt8(ascii: "{") else {
            throw RecurError(.headerJSON, "header must start with '{' (no BOM or leading whitespace)")
        }
        let v = try p.value(depth: 1)
        p.skipWhitespace()
        guard p.pos == bytes.count else {
            throw RecurError(.headerJSON, "unexpected content after the header object at byte \(p.pos)")
        }
        return v
    }

    struct Parser {
        let bytes: UnsafeRawBufferPointer
        var pos = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

        mutating func skipWhitespace() {
            while pos < bytes.count {
                let c = bytes[pos]
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { pos += 1 } else { break }
            }
        }

        func fail(_ what: String) -> RecurError {
            RecurError(.headerJSON, "\(what) at byte \(pos)")
        }

        mutating func expect(_ literal: StaticString) throws(RecurError) {
            let n = literal.utf8CodeUnitCount
            guard pos + n <= bytes.count else { throw fail("truncated literal") }
            let lp = literal.utf8Start
            for i in 0..<n where bytes[pos + i] != lp[i] {
                throw fail("invalid literal")
            }
            pos += n
        }

        mutating func value(depth: Int) throws(RecurError) -> JSON {
            guard depth <= JSON.maxDepth else {
                throw RecurError(.headerDepth, "header nesting deeper than \(JSON.maxDepth) at byte \(pos)")
            }
            skipWhitespace()
            guard let c = peek() else { throw fail("unexpected end of header") }
            switch c {
            case UInt8(ascii: "{"):
                pos += 1
                var members: [(String, JSON)] = []
                var keys = Set<String>()
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    pos += 1
                    return .object(members)
                }
                while true {
                    skipWhitespace()
                    guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let key = try string()
                    guard keys.insert(key).inserted else {
                        throw RecurError(.duplicateKey, "duplicate key \"\(key)\" at byte \(pos)")
                    }
                    skipWhitespace()
                    guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    pos += 1
                    let v = try value(depth: depth + 1)
                    members.append((key, v))
                    skipWhitespace()
                    guard let d = peek() else { throw fail("unterminated object") }
                    pos += 1
                    if d == UInt8(ascii: "}") { return .object(members) }
                    guard d == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
                }
            case UInt8(ascii: "["):
                pos += 1
                var items: [JSON] = []
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    pos += 1
                    return .array(items)
                }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard let d = peek() else { throw fail("unterminated array") }
                    pos += 1
                    if d == UInt8(ascii: "]") { return .array(items) }
                    guard d == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try number()
            default:
                throw fail("unexpected character (NaN, Infinity and other non-JSON tokens are rejected)")
            }
        }

        mutating func number() throws(RecurError) -> JSON {
            let start = pos
            var negative = false
            if peek() == UInt8(ascii: "-") {
                negative = true
                pos += 1
            }
            guard let first = peek(), first >= 0x30 && first <= 0x39 else { throw fail("invalid number") }
            var value: Int64 = 0
            var overflow = false
            if first == 0x30 {
                pos += 1
            } else {
                while let d = peek(), d >= 0x30 && d <= 0x39 {
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int64(d - 0x30))
                    if o1 || o2 { overflow = true } else { value = a }
                    pos += 1
                }
            }
            var integer = true
            if peek() == UInt8(ascii: ".") {
                integer = false
                pos += 1
                guard let d = peek(), d >= 0x30 && d <= 0x39 else { throw fail("invalid fraction") }
                while let d = peek(), d >= 0x30 && d <= 0x39 { pos += 1 }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                integer = false
                pos += 1
                if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { pos += 1 }
                guard let d = peek(), d >= 0x30 && d <= 0x39 else { throw fail("invalid exponent") }
                while let d = peek(), d >= 0x30 && d <= 0x39 { pos += 1 }
            }
            if integer && !overflow {
                return .integer(negative ? -value : value)
            }
            let n = min(pos - start, 24)
            var text = ""
            for i in start..<(start + n) { text.unicodeScalars.append(Unicode.Scalar(bytes[i])) }
            if pos - start > n { text += "..." }
            return .nonInteger(text)
        }

        mutating func hex4() throws(RecurError) -> UInt32 {
            guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }

        /// A string; `pos` at the opening quote. Input is valid UTF-8.
        mutating func string() throws(RecurError) -> String {
            pos += 1
            var out: [UInt8] = []
            while true {
                guard let c = peek() else { throw fail("unterminated string") }
                if c == UInt8(ascii: "\"") {
                    pos += 1
                    break
                }
                if c < 0x20 { throw fail("unescaped control character in string") }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    pos += 1
                    continue
                }
                pos += 1
                guard let e = peek() else { throw fail("unterminated escape") }
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800 && cp <= 0xDBFF {
                        guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"),
                            bytes[pos + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate escape") }
                        pos += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo <= 0xDFFF else { throw fail("unpaired surrogate escape") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if cp >= 0xDC00 && cp <= 0xDFFF {
                        throw fail("unpaired surrogate escape")
                    }
                    guard let scalar = Unicode.Scalar(cp) else { throw fail("invalid code point") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw fail("invalid escape")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    // MARK: - Serialisation (deterministic; compact)

    /// Compact, deterministic text (also the CLI's `--json` output).
    package func serialized() -> String {
        var s = ""
        write(into: &s)
        return s
    }

    func write(into s: inout String) {
        switch self {
        case .object(let members):
            s += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { s += "," }
                JSON.writeString(k, into: &s)
                s += ":"
                v.write(into: &s)
            }
            s += "}"
        case .array(let items):
            s += "["
            for (i, v) in items.enumerated() {
                if i > 0 { s += "," }
                v.write(into: &s)
            }
            s += "]"
        case .string(let str): JSON.writeString(str, into: &s)
        case .integer(let n): s += String(n)
        case .nonInteger(let t): s += t
        case .bool(let b): s += b ? "true" : "false"
        case .null: s += "null"
        }
    }

    package static func writeString(_ str: String, into s: inout String) {
        s += "\""
        for u in str.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let h = String(u.value, radix: 16)
                    s += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    s.unicodeScalars.append(u)
                }
            }
        }
        s += "\""
    }
}

/// Strict UTF-8 validation (no overlongs, no surrogates, nothing above U+10FFFF).
/// Returns the offset of the first invalid byte, or nil if valid.
func firstInvalidUTF8(_ b: UnsafeRawBufferPointer) -> Int? {
    var i = 0
    let n = b.count
    while i < n {
        let c = b[i]
        if c < 0x80 {
            i += 1
            continue
        }
        var need = 0
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED: need = 2; hi = 0x9F
        case 0xF0: need = 3; lo = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; hi = 0x8F
        default: return i
        }
        guard i + need < n else { return i }
        let c1 = b[i + 1]
        guard c1 >= lo && c1 <= hi else { return i }
        for k in 1..<need {
            let ck = b[i + 1 + k]
            guard ck >= 0x80 && ck <= 0xBF else { return i }
        }
        i += need + 1
    }
    return nil
}
