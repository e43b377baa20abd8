//! The short soak under faults of `make test`: jobs from four users for
//! about a minute while service processes are killed -9 and the database
//! server is killed -9 and started again, then the checks of `make chaos`.
//! Everything broken belongs to this test (its own processes and database
//! server), so tests running beside it see nothing.

use std::time::Duration;

use e2e::chaos::isolated::IsolatedSystem;
use e2e::chaos::{self, FaultKind, Plan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_killed_services_and_database_restarts_loses_duplicates_and_skips_nothing() {
    let mut system = IsolatedSystem::start(2).await;
    let plan = Plan {
        jobs: 24,
        duration: Duration::from_secs(60),
        fault_every: Duration::from_secs(10),
        // Pieces stay down a while, so jobs meet the outage, not only a restart.
        hold: Duration::from_secs(3),
        users: 4,
        projects_per_user: 2,
        seed: 16,
        settle: Duration::from_secs(60),
        tag: system.pipeline.env.id.clone(),
    };
    let db = system.pipeline.db.clone();
    let bus = system.pipeline.bus.clone();
    let store = system.pipeline.env.store();
    let report = chaos::run(&db, bus.as_ref(), &store, &mut system, &plan)
        .await
        .expect("the soak runs");
    println!("{report}");
    // The objects go whatever the outcome; the database goes with its server.
    let projects = db
        .projects()
        .all(platform::mongo::PageRequest::all())
        .await
        .expect("db answers")
        .items;
    system
        .pipeline
        .clean(&projects.iter().map(|p| &p.slug).collect::<Vec<_>>())
        .await;

    assert!(report.faults_of(FaultKind::Service) >= 2, "{report}");
    assert!(report.faults_of(FaultKind::Database) >= 2, "{report}");
    assert!(report.accepted >= plan.jobs / 2, "{report}");
    assert!(report.passed(), "{report}");
}
