use super::*;
use ferrosoup_sfu::api::{ErrorKind, LogLevel};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

type Reply = Result<Value, ApiError>;

fn req(id: u32, method: &str, handler: &str, data: Value) -> Request {
    Request::from_value(id, method, handler, data).unwrap()
}

fn start(settings: Settings, hooks: bool) -> (WorkerHandle, std_mpsc::Receiver<Outgoing>) {
    let (tx, rx) = std_mpsc::channel();
    let tx = Mutex::new(tx);
    let sink: Sink = Arc::new(move |m| {
        let _ = tx.lock().unwrap().send(m);
        true
    });
    let handle = spawn(settings, sink, hooks).unwrap();
    assert!(matches!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Outgoing::Running { .. }));
    (handle, rx)
}

/// Next non-log message.
fn next(rx: &std_mpsc::Receiver<Outgoing>) -> Outgoing {
    loop {
        match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            Outgoing::Log { .. } => continue,
            m => return m,
        }
    }
}

fn call(h: &WorkerHandle, rx: &std_mpsc::Receiver<Outgoing>, id: u32, method: &str, handler: &str, data: Value) -> Reply {
    assert!(h.request(req(id, method, handler, data)));
    match next(rx) {
        Outgoing::Response { id: got, result } => {
            assert_eq!(got, id);
            result.map(ferrosoup_sfu::api::Reply::into_value)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn creates_dumps_and_closes_routers() {
    let (h, rx) = start(Settings::default(), false);
    let codecs = json!([{ "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 }]);
    let r = call(&h, &rx, 1, "worker.createRouter", "", json!({ "routerId": "r1", "mediaCodecs": codecs })).unwrap();
    assert_eq!(r["rtpCapabilities"]["codecs"][0]["preferredPayloadType"], 100);
    let dump = call(&h, &rx, 2, "worker.dump", "", Value::Null).unwrap();
    assert_eq!(dump["routerIds"], json!(["r1"]));
    let pid = dump["pid"].as_u64().unwrap() as u32;
    assert!(std::path::Path::new(&format!("/proc/{}/task/{pid}", std::process::id())).exists(), "the worker thread's id");
    assert_eq!(call(&h, &rx, 3, "router.dump", "r1", Value::Null).unwrap()["id"], "r1");
    call(&h, &rx, 4, "worker.closeRouter", "", json!({ "routerId": "r1" })).unwrap();
    let e = call(&h, &rx, 5, "router.dump", "r1", Value::Null).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.message, "Channel request handler with ID r1 not found [method:ROUTER_DUMP]");
    let e = call(&h, &rx, 6, "worker.createRouter", "", json!({ "routerId": "r2", "mediaCodecs": [{ "mimeType": "audio/foo", "clockRate": 1 }] })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let usage = call(&h, &rx, 7, "worker.getResourceUsage", "", Value::Null).unwrap();
    assert!(usage["ru_maxrss"].as_i64().unwrap() > 0);
    h.close();
    assert_eq!(next(&rx), Outgoing::Exited);
    // The thread is gone: further requests are refused.
    std::thread::sleep(Duration::from_millis(50));
    assert!(!h.request(req(9, "worker.dump", "", Value::Null)));
}

#[test]
fn a_panic_is_reported_as_died_and_spares_other_workers() {
    let (a, rx_a) = start(Settings::default(), true);
    let (b, rx_b) = start(Settings::default(), true);
    assert!(a.request(req(1, "worker.panicForTesting", "", Value::Null)));
    match next(&rx_a) {
        Outgoing::Died { reason } => assert!(reason.contains("panic requested by a test"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
    call(&b, &rx_b, 1, "worker.dump", "", Value::Null).unwrap();
    // Without test hooks the method does not exist.
    let (c, rx_c) = start(Settings::default(), false);
    assert!(call(&c, &rx_c, 1, "worker.panicForTesting", "", Value::Null).is_err());
}

#[test]
fn logs_follow_level_and_tags() {
    let (tx, rx) = std_mpsc::channel();
    let tx = Mutex::new(tx);
    let sink: Sink = Arc::new(move |m| {
        let _ = tx.lock().unwrap().send(m);
        true
    });
    let s = Settings { log_level: LogLevel::Debug, log_tags: vec!["info"], ..Settings::default() };
    let h = spawn(s, sink, false).unwrap();
    let mut saw_debug = false;
    assert!(h.request(req(1, "worker.dump", "", Value::Null)));
    loop {
        match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            Outgoing::Log { level: 'D', text } if text.contains("WORKER_DUMP") => saw_debug = true,
            Outgoing::Response { .. } => break,
            _ => {}
        }
    }
    assert!(saw_debug);
    // Dropping the tag silences tagged debug lines.
    assert!(h.request(req(2, "worker.updateSettings", "", json!({ "logTags": [] }))));
    assert!(h.request(req(3, "worker.dump", "", Value::Null)));
    let mut responses = 0;
    while responses < 2 {
        match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            Outgoing::Log { text, .. } => assert!(!text.contains("id:3"), "{text}"),
            Outgoing::Response { .. } => responses += 1,
            _ => {}
        }
    }
    h.close();
}

#[tokio::test(flavor = "current_thread")]
async fn queues_towards_slow_readers_are_bounded() {
    // A TCP connection whose peer stops reading: its write queue holds a bounded number of
    // frames; the rest are dropped and counted.
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let mut sockets = sockets::Sockets::default();
            let (tx, _rx) = mpsc::channel::<Vec<u8>>(sockets::TCP_WRITE_QUEUE);
            let idle = || tokio::task::spawn_local(std::future::pending::<()>()).abort_handle();
            let id = sockets.next_id();
            sockets.insert(id, sockets::Socket::TcpConn { writer: tx, tasks: [idle(), idle()] });
            for _ in 0..sockets::TCP_WRITE_QUEUE + 100 {
                sockets.send_tcp(id, &[0u8; 100]);
            }
            assert_eq!(sockets.tcp_dropped, 100);
            // Media for another worker whose queue is full: dropped and counted, never blocking.
            let cert = LocalCertificate::generate().unwrap();
            let sink: Sink = Arc::new(|_| true);
            let (_requests, requests_rx) = mpsc::unbounded_channel();
            let rt = Runtime::new(EngineConfig { settings: Settings::default(), certificate: cert, seed: [1; 32], worker: 999, video_padding: 0 }, sink, false, requests_rx);
            let (control, _c) = mpsc::unbounded_channel();
            let (pipe, _p) = mpsc::channel(PIPE_QUEUE);
            registry().lock().unwrap().insert(998, Inbound { control, pipe });
            let msg = || PipeMessage { transport: Arc::from("t"), data: vec![0; 10], kind: ferrosoup_sfu::engine::io::PipeKind::Rtp };
            for _ in 0..PIPE_QUEUE + 50 {
                rt.borrow_mut().send_pipe(998, msg());
            }
            assert_eq!(rt.borrow().pipe_dropped, 50);
            registry().lock().unwrap().remove(&998);
        })
        .await;
}
