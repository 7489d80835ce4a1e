// Why a task failed, in the four kinds the dashboard and the JSON count (`TaskErrorCounts`).
//
// A task body that throws is a failure: `KindStats.fail` counts it by kind and takes it out of
// flight, and it is never a completion nor a latency sample. The kinds are the ones a network
// client tells apart: the peer reset the connection, a deadline passed, nobody listened, or
// anything else (the error's description is kept for the thrower's own messages).

import Foundation
import Runtime
import Telemetry

/// One failed task's error. Thrown by the loopback client; `TaskFailure.kind(of:)` classifies any error.
public struct TaskFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: TaskErrorKind
    /// What failed, for messages (`read: errno 104`).
    public var detail: String

    public init(_ kind: TaskErrorKind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The failure of syscall `op` with `errno`.
    public init(op: String, errno e: Int32) {
        self.init(Self.kind(errno: e), "\(op): \(String(cString: strerror(e))) (errno \(e))")
    }

    /// `error` of step `op`, classified by `kind(of:)`.
    public init(wrapping error: any Error, op: String) {
        self.init(Self.kind(of: error), "\(op): \(error)")
    }

    public var description: String { "\(kind.rawValue): \(detail)" }

    public static func kind(errno e: Int32) -> TaskErrorKind {
        switch e {
        case ECONNRESET, EPIPE: return .reset
        case ETIMEDOUT: return .timeout
        case ECONNREFUSED: return .refused
        default: return .other
        }
    }

    /// The kind of any error a task body throws.
    public static func kind(of error: any Error) -> TaskErrorKind {
        switch error {
        case let f as TaskFailure: return f.kind
        case LoopError.timedOut: return .timeout
        case SchedulerError.io(_, let e): return kind(errno: e)
        default: return .other
        }
    }
}
