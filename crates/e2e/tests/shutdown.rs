//! Graceful shutdown: a freecad-worker told to stop (SIGTERM, as Kubernetes
//! and docker do) in the middle of a FreeCAD run must not lose the job.
//! WorkerApp finishes the message in hand before exiting; had it not, the
//! unacknowledged message would go to the other worker. Either way the job
//! completes, and the stopped worker exits 0 well within its grace period.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use domain::JobStage;
use e2e::{Pipeline, Service};
use platform::mongo::PageRequest;

const MINUTE: Duration = Duration::from_secs(60);
/// What terminationGracePeriodSeconds gives a worker in k8s/ (180 s); this
/// run sleeps 3 s, so the worker should be gone long before.
const GRACE: Duration = Duration::from_secs(60);

const SLOW_BOX: &str = "import time\ntime.sleep(3)\nimport FreeCAD as App\nimport Part\n\
doc = App.ActiveDocument or App.newDocument('Model')\n\
doc.addObject('Part::Feature', 'Box').Shape = Part.makeBox(3, 4, 5)\ndoc.recompute()\n";

/// The processes whose parent is `pid` (a worker's FreeCAD runs).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .is_some_and(|stat| {
                    // pid (comm) state ppid …; comm may hold spaces, so split after ')'.
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                        == Some(pid)
                })
        })
        .collect()
}

/// Whether the worker `pid` is running a FreeCAD job: a cold run is a
/// child of its own; a warm run is a child forked by one of the worker's
/// warm FreeCAD processes (which are there, idle, from the start).
fn runs_a_job(pid: u32) -> bool {
    children(pid).into_iter().any(|child| {
        let warm_server = std::fs::read(format!("/proc/{child}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("warm.py"));
        !warm_server || !children(child).is_empty()
    })
}

/// Starts one freecad-worker with its own id and log file.
fn worker(p: &Pipeline, id: &str) -> Service {
    let mut vars: HashMap<String, String> = p.env.service_env();
    vars.insert("WORKER_ID".into(), id.into());
    vars.insert("FREECAD_CONCURRENCY".into(), "1".into());
    Service::start("freecad-worker", &vars, &format!("{}-{id}", p.env.id))
}

#[tokio::test]
async fn a_worker_stopped_mid_run_finishes_the_job_and_exits_cleanly() {
    let mut p = Pipeline::new().await;
    p.start(&["script-store", "output-watcher"], &[]);
    let mut workers = [worker(&p, "w1"), worker(&p, "w2")];

    let project = p.project("graceful stop").await;
    let id = p.upload(&project, SLOW_BOX).await;

    // Wait until one worker runs FreeCAD for the job.
    let start = Instant::now();
    let busy = loop {
        let processing =
            p.db.jobs()
                .get(id)
                .await
                .unwrap()
                .is_some_and(|j| j.stage == JobStage::Processing);
        if processing {
            if let Some(i) = workers.iter().position(|w| runs_a_job(w.child.id())) {
                break i;
            }
        }
        assert!(start.elapsed() < MINUTE, "no worker started FreeCAD for the job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let other = 1 - busy;
    tokio::time::sleep(Duration::from_millis(500)).await;
    workers[busy].terminate();

    let stopped_at = Instant::now();
    let status = loop {
        if let Some(status) = workers[busy].child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped_at.elapsed() < GRACE,
            "the stopped worker still runs after {GRACE:?}:\n{}",
            workers[busy].log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = workers[busy].log_text();
    assert!(status.success(), "the stopped worker exited with {status}:\n{log}");
    assert!(
        log.contains("shutdown requested"),
        "the worker did not see SIGTERM:\n{log}"
    );

    let job = p.finished(id, 2 * MINUTE).await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);
    let volume = job.metrics.as_ref().expect("metrics recorded").volume;
    assert!((volume - 60.0).abs() < 1e-6, "volume {volume}");
    // WorkerApp finishes the message in hand, so the stopped worker built
    // the model itself (a requeue to the other worker would also keep the
    // job, but it is not what the service does, and it costs a second run).
    assert!(
        log.contains("model built"),
        "the stopped worker did not finish its run:\n{log}"
    );
    let other_log = workers[other].log_text();
    assert!(!other_log.contains("model built"), "the job ran twice:\n{other_log}");
    let logs = p.db.logs().list(&project.project_id, PageRequest::all()).await.unwrap();
    assert_eq!(logs.total, 1, "one FreeCAD run log");

    // The other worker still serves.
    assert!(
        workers[other].child.try_wait().unwrap().is_none(),
        "the other worker stopped too"
    );
    let next = p
        .upload(&project, SLOW_BOX.replace("time.sleep(3)", "pass").as_str())
        .await;
    let job = p.finished(next, 2 * MINUTE).await;
    assert_eq!(job.stage, JobStage::Completed, "{:?}", job.error);

    p.clean(&[&project.slug]).await;
}
