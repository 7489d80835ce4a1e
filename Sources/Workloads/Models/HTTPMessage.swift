// HTTP/1.1 messages for the `http` task kind: the parsers (colourless: bytes in, messages out, no I/O)
// that both the loopback server (HTTPServer.swift) and the two clients (HTTPClient.swift, sync and
// async) use, so only the I/O loops around them come in two colours.
//
// What is parsed for real (RFC 9112, the subset a keep-alive GET client and its server need):
// - the request line `METHOD SP request-target SP HTTP/1.x CRLF` and the status line
//   `HTTP/1.x SP 3DIGIT SP reason CRLF`;
// - header fields `name: value` (a token name, no space before the colon; optional whitespace around
//   the value), the head ending at an empty line;
// - `Content-Length` bodies (one decimal value; repeated with different values is an error);
//   `Transfer-Encoding` is refused (a request with it is answered 501, as the RFC allows for a coding
//   the server does not know), so a body is never guessed at;
// - keep-alive: HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes unless
//   `Connection: keep-alive`;
// - pipelining: the parser keeps whatever follows a complete message for the next `next()`, so several
//   requests in one read, or one request split over many reads, parse the same.
// HTTP/1.1 requests without `Host` are bad requests (RFC 9112 §3.2). Lines must end in CRLF. Limits:
// 8 KiB of head, 1 MiB of body (beyond them: 431 / 413).
//
// Ownership: a parser is a value owned by one connection's strand (the server thread, or one client).

/// Why a message could not be parsed; the server answers it with `status` and closes.
struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status a server answers with (400, 413, 431, 501, 505).
    var status: Int
    var reason: String
    var description: String { "HTTP \(status): \(reason)" }
}

/// One parsed request.
struct HTTPRequest: Sendable, Equatable {
    var method: String
    var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The connection stays open after the response.
    var keepAlive: Bool

    static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.minorVersion == b.minorVersion
            && a.headers.elementsEqual(b.headers, by: { $0 == $1 }) && a.body == b.body && a.keepAlive == b.keepAlive
    }

    /// The value of query parameter `name` in the target (`/?us=3000&bytes=64`), if any.
    func query(_ name: String) -> String? {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.first.map(String.init) == name { return kv.count > 1 ? String(kv[1]) : "" }
        }
        return nil
    }
}

/// One parsed response.
struct HTTPResponse: Sendable, Equatable {
    var status: Int
    var body: [UInt8]
    /// The server keeps the connection open after it.
    var keepAlive: Bool
}

/// The head (start line + header fields) of one message, and the body length it announces.
struct HTTPHead {
    var startLine: [String]
    var minorVersion: Int
    var headers: [(name: String, value: String)]
    var contentLength: Int
    var keepAlive: Bool

    static let maxHead = 8 * 1024
    static let maxBody = 1 << 20

    /// Parses the head in `bytes` (without its final empty line). `isRequest` decides the start line's
    /// shape. Throws what a server answers. Works on bytes (lines split at CRLF, fields at the first colon);
    /// only names and values become Strings.
    init(_ bytes: ArraySlice<UInt8>, isRequest: Bool) throws(HTTPParseError) {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 0x0D && i + 1 < bytes.endIndex && bytes[i + 1] == 0x0A {
                lines.append(bytes[lineStart..<i])
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        lines.append(bytes[lineStart..<bytes.endIndex])
        // A bare CR or LF left in a line is bad: every line ends in CRLF.
        guard !lines.contains(where: { $0.contains(0x0D) || $0.contains(0x0A) }) else {
            throw HTTPParseError(status: 400, reason: "line not ended by CRLF")
        }
        let start = Self.fields(lines[0], maxSplits: 2)
        let version: ArraySlice<UInt8>
        if isRequest {
            guard start.count == 3, !start[0].isEmpty, start[0].allSatisfy(Self.isTokenByte), !start[1].isEmpty,
                !start[2].contains(0x20)
            else { throw HTTPParseError(status: 400, reason: "bad request line") }
            version = start[2]
        } else {
            guard start.count >= 2, start[1].count == 3, start[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw HTTPParseError(status: 400, reason: "bad status line")
            }
            version = start[0]
        }
        guard version.count == 8, version.starts(with: Self.http1), let minor = version.last, minor >= 0x30,
            minor <= 0x39
        else {
            throw HTTPParseError(
                status: isRequest && version.starts(with: Self.http1.prefix(5)) ? 505 : 400, reason: "bad version")
        }
        startLine = start.map { String(decoding: $0, as: UTF8.self) }
        minorVersion = min(Int(minor - 0x30), 1)
        var headers: [(name: String, value: String)] = []
        var length: Int? = nil
        var close = false
        var keepAliveAsked = false
        var hasHost = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 0x3A) else {
                throw HTTPParseError(status: 400, reason: "bad header line")
            }
            let nameBytes = line[..<colon]
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(Self.isTokenByte) else {
                throw HTTPParseError(status: 400, reason: "bad header name")
            }
            var value = line[(colon + 1)...]
            while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
            while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let text = String(decoding: value, as: UTF8.self)
            headers.append((name, text))
            switch name.lowercased() {
            case "content-length":
                guard !value.isEmpty, value.count <= 9, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                    let n = Int(text)
                else { throw HTTPParseError(status: 400, reason: "bad Content-Length") }
                if let length, length != n { throw HTTPParseError(status: 400, reason: "conflicting Content-Length") }
                length = n
            case "transfer-encoding":
                throw HTTPParseError(status: 501, reason: "Transfer-Encoding is not supported")
            case "connection":
                for option in text.lowercased().split(separator: ",") {
                    let o = option.trimmingCharacters(in: .whitespaces)
                    if o == "close" { close = true }
                    if o == "keep-alive" { keepAliveAsked = true }
                }
            case "host": hasHost = true
            default: break
            }
        }
        if isRequest && minorVersion == 1 && !hasHost {
            throw HTTPParseError(status: 400, reason: "HTTP/1.1 request without Host")
        }
        if let length, length > Self.maxBody { throw HTTPParseError(status: 413, reason: "body too large") }
        self.headers = headers
        contentLength = length ?? 0
        keepAlive = minorVersion == 1 ? !close : keepAliveAsked
    }

    static let http1 = Array("HTTP/1.".utf8)

    /// `line` split at single spaces, at most `maxSplits` times (empty fields kept: two spaces are an error).
    static func fields(_ line: ArraySlice<UInt8>, maxSplits: Int) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var rest = line
        while out.count < maxSplits, let sp = rest.firstIndex(of: 0x20) {
            out.append(rest[..<sp])
            rest = rest[(sp + 1)...]
        }
        out.append(rest)
        return out
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ a: UInt8) -> Bool {
        if (a >= 0x30 && a <= 0x39) || (a >= 0x41 && a <= 0x5A) || (a >= 0x61 && a <= 0x7A) { return true }
        return tcharSymbols.contains(a)
    }

    static let tcharSymbols = Set("!#$%&'*+-.^_`|~".utf8)
}
/// Bytes of one direction of a connection, buffered until they make whole messages. Pipelined bytes
/// stay for the next call.
struct HTTPMessageBuffer {
    private var bytes: [UInt8] = []
    private var start = 0

    /// Bytes received and not yet parsed.
    var pending: Int { bytes.count - start }

    mutating func append(_ more: UnsafeRawBufferPointer) { bytes.append(contentsOf: more) }
    mutating func append(_ more: [UInt8]) { bytes.append(contentsOf: more) }

    /// The next whole message as (head, body), or nil while incomplete. Throws when the head is bad or over
    /// the limit; the buffer is then unusable (the connection must close).
    mutating func next(isRequest: Bool) throws(HTTPParseError) -> (HTTPHead, [UInt8])? {
        // Tolerate empty lines before a request line (RFC 9112 §2.2).
        while isRequest, pending >= 2, bytes[start] == 0x0D, bytes[start + 1] == 0x0A { start += 2 }
        guard let end = headEnd() else {
            if pending > HTTPHead.maxHead { throw HTTPParseError(status: 431, reason: "head over 8 KiB") }
            return nil
        }
        let head = try HTTPHead(bytes[start..<end], isRequest: isRequest)
        let bodyStart = end + 4
        guard bytes.count - bodyStart >= head.contentLength else { return nil }
        let body = Array(bytes[bodyStart..<bodyStart + head.contentLength])
        start = bodyStart + head.contentLength
        if start > 4096 && start * 2 > bytes.count {
            bytes.removeFirst(start)
            start = 0
        }
        return (head, body)
    }

    /// Index of the CR of the first CRLFCRLF at or after `start`.
    private func headEnd() -> Int? {
        var i = start
        while i + 3 < bytes.count {
            if bytes[i] == 0x0D && bytes[i + 1] == 0x0A && bytes[i + 2] == 0x0D && bytes[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }
}

/// The server side: requests out of a connection's bytes.
struct HTTPRequestParser {
    private var buffer = HTTPMessageBuffer()
    var pending: Int { buffer.pending }

    mutating func append(_ more: UnsafeRawBufferPointer) { buffer.append(more) }
    mutating func append(_ more: [UInt8]) { buffer.append(more) }

    /// The next whole request, or nil while incomplete.
    mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        guard let (head, body) = try buffer.next(isRequest: true) else { return nil }
        return HTTPRequest(
            method: head.startLine[0], target: head.startLine[1], minorVersion: head.minorVersion,
            headers: head.headers, body: body, keepAlive: head.keepAlive)
    }
}

/// The client side: responses out of a connection's bytes, each read by its `Content-Length`.
struct HTTPResponseParser {
    private var buffer = HTTPMessageBuffer()

    mutating func append(_ more: UnsafeRawBufferPointer) { buffer.append(more) }

    /// The next whole response, or nil while incomplete.
    mutating func next() throws(HTTPParseError) -> HTTPResponse? {
        guard let (head, body) = try buffer.next(isRequest: false) else { return nil }
        return HTTPResponse(status: Int(head.startLine[1])!, body: body, keepAlive: head.keepAlive)
    }
}

enum HTTPText {
    static let reasons = [
        200: "OK", 400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large",
        501: "Not Implemented", 505: "HTTP Version Not Supported",
    ]

    /// A keep-alive GET for `target`.
    static func get(_ target: String) -> [UInt8] {
        Array("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: qvtop\r\n\r\n".utf8)
    }

    /// A response with `body`; `close` adds `Connection: close`.
    static func response(status: Int, body: [UInt8], close: Bool = false) -> [UInt8] {
        let reason = reasons[status] ?? "Status"
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Length: \(body.count)\r\nContent-Type: text/plain\r\n"
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// The target asking the loopback server to answer after `delayMicros` with `bytes` of body, or to
    /// reset the connection instead.
    static func target(delayMicros: UInt64, bytes: Int, reset: Bool = false) -> String {
        "/work?us=\(delayMicros)&bytes=\(bytes)" + (reset ? "&reset=1" : "")
    }
}
