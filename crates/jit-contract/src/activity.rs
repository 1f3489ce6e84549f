//! Every activity jit's workflows run, with its input and output. `activities/` implements
//! each (`#[activity(definition = ..)]`: the compiler checks the types, the name comes from
//! here); workflows call them by these definitions.

use jit_domain::{
    AssignmentRef, AuditRecord, ChatMessage, LeaseCall, PermitRelease, PermitRequest, Released,
    SessionSummary, TicketRequest, UserName, VoterCheck,
};

use crate::audit::{
    CutoffApplied, CutoffBatch, SessionAuditInput, SessionEvents, SessionEventsInput,
};
use crate::catalog::{Catalog as CatalogAnswer, ExplainAnswer, ExplainQuestion, Known};
use crate::chat::Announcement;
use crate::lease::Held;
use crate::reconcile::{Drift, ReconcileInput, Scan};
use crate::ticket::{Checked, Evaluation, GrantOutcome, Notification, Recheck as RecheckInput};

activity!(
    /// Validates and resolves a request (identity store, organization, permission sets)
    /// and asks the policy: the approval plan, or why not.
    Evaluate = "evaluate", TicketRequest => Evaluation
);
activity!(
    /// Whether a vote still counts: voter and approver exist, the approver is still in a
    /// group the recorded plan names for the step.
    CheckVoter = "check_voter", VoterCheck => Checked
);
activity!(
    /// The request's decision taken again with the policy and directory of now.
    Recheck = "recheck", RecheckInput => Checked
);
activity!(
    /// What a user may request now.
    Catalog = "catalog", UserName => CatalogAnswer
);
activity!(
    /// A policy decision explained (for the console's Policy page).
    Explain = "explain", ExplainQuestion => ExplainAnswer
);
activity!(
    /// The organization's accounts and the instance's permission sets.
    KnownTargets = "known_targets", () => Known
);
activity!(
    /// Tells people through chat; the messages it posted.
    Announce = "announce", Announcement => Vec<ChatMessage>
);
activity!(
    /// Which identity-store user has this email.
    UserByEmail = "user_by_email", String => Option<UserName>
);
activity!(
    /// Tells people about a ticket (reminders, escalation).
    Notify = "notify", Notification => ()
);
activity!(
    /// Whether the assignment exists now (standing access is never ours).
    AssignmentExists = "assignment_exists", AssignmentRef => bool
);
activity!(
    /// Creates the assignment, polls until AWS settles, verifies by listing.
    Grant = "grant", AssignmentRef => GrantOutcome
);
activity!(
    /// Deletes the assignment, polls until AWS settles, verifies it is gone.
    Revoke = "revoke", AssignmentRef => ()
);
activity!(
    /// A ticket joins the assignment's lease (starting it) and waits until access is in place.
    AcquireLease = "acquire_lease", LeaseCall => Held
);
activity!(
    /// A ticket leaves the lease and waits until the assignment is deleted or kept for others.
    ReleaseLease = "release_lease", LeaseCall => Released
);
activity!(
    /// A lease asks the governor for a permit (starting the governor if needed).
    RequestPermit = "request_permit", PermitRequest => ()
);
activity!(
    /// A lease returns its permit.
    ReturnPermit = "return_permit", PermitRelease => ()
);
activity!(
    /// Lists AWS and the running leases and compares them.
    ReconcileScan = "reconcile_scan", ReconcileInput => Scan
);
activity!(
    /// Hands a finding to its lease.
    ReconcileSignal = "reconcile_signal", Drift => ()
);
activity!(
    /// What the principal did with an ended ticket's access (CloudTrail), its events written
    /// to the audit bucket.
    SessionAudit = "session_audit", SessionAuditInput => SessionSummary
);
activity!(
    /// A live look at a ticket's sessions so far.
    SessionEventsNow = "session_events", SessionEventsInput => SessionEvents
);
activity!(
    /// Writes an ended ticket's audit record to the audit bucket; answers its key.
    ExportAudit = "export_audit", AuditRecord => String
);
activity!(
    /// Writes cut-offs into an account's policies, pruning what expired.
    ApplyCutoffs = "apply_cutoffs", CutoffBatch => CutoffApplied
);
activity!(
    /// Asks an account's cut-off entity to prune what expired (started if need be).
    PruneCutoffs = "prune_cutoffs", String => ()
);
