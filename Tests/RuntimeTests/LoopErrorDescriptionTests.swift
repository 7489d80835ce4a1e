import Glibc
import Runtime
import Testing

/// A loop error reaches a banner or a log as one line that says what failed (it printed as
/// `threadRefused(code: 11)` and `selector(Runtime.SelectorError.system(call: "epoll_ctl", errno: 9))`).
struct LoopErrorDescriptionTests {
    @Test func aRefusedThreadSaysSoInTheSystemsWords() {
        let text = "\(LoopError.threadRefused(code: EAGAIN))"
        #expect(
            text == "event loop: the system refused a thread (pthread_create: \(String(cString: strerror(EAGAIN))))")
    }

    @Test func fdErrorsNameTheFd() {
        #expect("\(LoopError.fdBusy(7))" == "event loop: fd 7 already has a waiter in that direction")
        #expect("\(LoopError.fdClosed(9))" == "event loop: fd 9 was closed while a task waited on it")
    }

    @Test func aSelectorErrorNamesTheCallAndTheErrno() {
        let text = "\(LoopError.selector(.system(call: "epoll_ctl", errno: EBADF)))"
        #expect(text == "event loop: epoll_ctl failed: \(String(cString: strerror(EBADF)))")
    }
}
