//! The sandbox's FreeCAD cases run by the warm executor (FreeCAD loaded
//! once, a contained child forked per job), and what only a long-lived
//! FreeCAD process can get wrong.

const EXECUTOR: sandbox::Executor = sandbox::Executor::Warm;

include!("cases/freecad.rs");

/// A sandbox with a work root of its own, so its warm processes can be told
/// from those of the tests running beside it.
fn own_sandbox(name: &str) -> Sandbox {
    let root = std::env::temp_dir().join(format!("cadscribe-sandbox-{name}-{}", std::process::id()));
    sandbox(strict()).with_work_root(root)
}

/// The warm FreeCAD processes of `sandbox`: `freecadcmd <work root>/…/warm.py`
/// children of this test process.
fn warm_servers(sandbox: &Sandbox) -> Vec<i32> {
    let root = sandbox.work_root().to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent(*pid).as_deref() == Some(me.as_str()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("warm.py") && c.contains(&root)
            })
        })
        .collect()
}

fn parent(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit(')').next()?.split_whitespace().nth(1)?.to_owned())
}

fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|child| parent(*child) == Some(pid.to_string()))
        .collect()
}

/// A warm process killed in the middle of a job costs that job nothing: it
/// runs again on a new process, and the next job is served too.
#[tokio::test]
async fn a_warm_process_killed_mid_job_is_replaced_and_the_job_completes() {
    let sandbox = own_sandbox("killed");
    sandbox.warm_up(1).await.expect("a warm FreeCAD process starts");
    let servers = warm_servers(&sandbox);
    assert_eq!(servers.len(), 1, "{servers:?}");
    let server = servers[0];
    let script = format!("import time\ntime.sleep(1.5)\n{PLATE}");
    let killer = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while children_of(server).is_empty() {
            assert!(std::time::Instant::now() < deadline, "the job never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // SAFETY: kill has no memory effects.
        unsafe { libc::kill(server, libc::SIGKILL) };
    };
    let (report, ()) = tokio::join!(run(&sandbox, &script), killer);
    match &report.outcome {
        Outcome::Built { metrics, .. } => assert!((metrics.volume - PLATE_VOLUME).abs() < 1.0),
        Outcome::Failed { error, .. } => panic!("the job failed with its process: {error}\n{}", report.log),
    }
    let now = warm_servers(&sandbox);
    assert!(!now.contains(&server), "the killed process is still listed: {now:?}");
    assert_eq!(now.len(), 1, "one new warm process: {now:?}");
    still_builds(&sandbox).await;
}

/// A job's child that crashes (a signal, as FreeCAD's C++ can) fails alone,
/// with its reason, and the same warm process serves the next job.
#[tokio::test]
async fn a_crashing_child_fails_alone() {
    let sandbox = own_sandbox("crash");
    sandbox.warm_up(1).await.expect("a warm FreeCAD process starts");
    let before = warm_servers(&sandbox);
    // faulthandler's test helper segfaults the process on purpose.
    let report = run(&sandbox, "import faulthandler\nfaulthandler._sigsegv()\n").await;
    let (kind, error, _) = failure(&report);
    assert_eq!(kind, FailureKind::Crashed, "{error}\n{}", report.log);
    still_builds(&sandbox).await;
    assert_eq!(warm_servers(&sandbox), before, "the warm process was not replaced");
}

/// Jobs in flight at once on warm processes: each is its own process, the
/// work is spread over one process per concurrent run, and none can read
/// the other's directory.
#[tokio::test]
async fn concurrent_jobs_get_their_own_processes() {
    let sandbox = own_sandbox("concurrent");
    let a = format!("import time, os\nprint('pid', os.getpid())\ntime.sleep(1)\n{PLATE}");
    let (r1, r2) = tokio::join!(run(&sandbox, &a), run(&sandbox, &a));
    assert!(r1.is_built() && r2.is_built(), "{}\n{}", r1.log, r2.log);
    let pid = |r: &RunReport| {
        r.log
            .lines()
            .find_map(|l| l.strip_prefix("pid ")?.trim().parse::<i32>().ok())
    };
    assert_ne!(pid(&r1), pid(&r2));
    assert_eq!(warm_servers(&sandbox).len(), 2);
}

/// A warm process that has served its jobs is replaced before the next job
/// asks for one: its replacement loads in the background, so no job waits
/// for FreeCAD to load, and the pool keeps one process per run.
#[tokio::test]
async fn a_retired_process_is_replaced_before_the_next_job() {
    let sandbox = own_sandbox("retired").with_warm_jobs(2);
    sandbox.warm_up(1).await.expect("a warm FreeCAD process starts");
    let first = warm_servers(&sandbox);
    assert_eq!(first.len(), 1, "{first:?}");
    still_builds(&sandbox).await;
    assert_eq!(warm_servers(&sandbox), first, "retired after one job of two");
    still_builds(&sandbox).await;
    // No job runs now: only the pool can start the replacement.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let replacement = loop {
        let now = warm_servers(&sandbox);
        if sandbox.warm_ready() == 1 && now.len() == 1 && now != first {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no replacement was started: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    still_builds(&sandbox).await;
    assert_eq!(
        warm_servers(&sandbox),
        replacement,
        "the next job ran on the replacement"
    );
}
