//! Each workflow implements its contract definition: the same input and output types for
//! the workflow and every handler (checked by the compiler: `same_*` only accept matching
//! definitions) and the same names (checked here).

use jit_contract::{catalog, delegation, governor, lease, reconcile, ticket, user_lookup};
use temporalio_common::{QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition};

use crate::{
    AssignmentLease, AwsGovernor, CatalogWorkflow, DelegationWorkflow, ReconcileWorkflow,
    TicketWorkflow, UserLookupWorkflow,
};

fn same_workflow<A, B>(a: A, b: B)
where
    A: WorkflowDefinition,
    B: WorkflowDefinition<Input = A::Input, Output = A::Output>,
{
    assert_eq!(a.name(), b.name());
}

fn same_update<A, B>(a: A, b: B)
where
    A: UpdateDefinition,
    B: UpdateDefinition<Input = A::Input, Output = A::Output>,
{
    assert_eq!(a.name(), b.name());
}

fn same_signal<A, B>(a: A, b: B)
where
    A: SignalDefinition,
    B: SignalDefinition<Input = A::Input>,
{
    assert_eq!(a.name(), b.name());
}

fn same_query<A, B>(a: A, b: B)
where
    A: QueryDefinition,
    B: QueryDefinition<Input = A::Input, Output = A::Output>,
{
    assert_eq!(a.name(), b.name());
}

#[test]
fn the_ticket_workflow_implements_its_contract() {
    same_workflow(TicketWorkflow::run, ticket::Workflow);
    same_update(TicketWorkflow::approve, ticket::Approve);
    same_update(TicketWorkflow::deny, ticket::Deny);
    same_update(TicketWorkflow::delegate, ticket::Delegate);
    same_update(TicketWorkflow::extend, ticket::Extend);
    same_update(TicketWorkflow::relinquish, ticket::Relinquish);
    same_update(TicketWorkflow::revoke, ticket::Revoke);
    same_update(TicketWorkflow::cancel, ticket::Cancel);
    same_signal(TicketWorkflow::approve_signal, ticket::ApproveSignal);
    same_signal(TicketWorkflow::deny_signal, ticket::DenySignal);
    same_signal(TicketWorkflow::delegate_signal, ticket::DelegateSignal);
    same_signal(TicketWorkflow::extend_signal, ticket::ExtendSignal);
    same_signal(TicketWorkflow::relinquish_signal, ticket::RelinquishSignal);
    same_signal(TicketWorkflow::revoke_signal, ticket::RevokeSignal);
    same_signal(TicketWorkflow::cancel_signal, ticket::CancelSignal);
    same_query(TicketWorkflow::status, ticket::Status);
    same_query(TicketWorkflow::audit, ticket::Audit);
}

#[test]
fn leases_and_the_governor_implement_their_contract() {
    same_workflow(AssignmentLease::run, lease::Workflow);
    same_update(AssignmentLease::acquire, lease::Acquire);
    same_update(AssignmentLease::release, lease::Release);
    same_signal(AssignmentLease::permit, lease::Permit);
    same_signal(AssignmentLease::reconcile, lease::Reconcile);
    same_query(AssignmentLease::state, lease::State);
    same_workflow(AwsGovernor::run, governor::Workflow);
    same_signal(AwsGovernor::request, governor::Request);
    same_signal(AwsGovernor::release, governor::Release);
    same_query(AwsGovernor::state, governor::State);
}

#[test]
fn the_other_workflows_implement_their_contract() {
    same_workflow(ReconcileWorkflow::run, reconcile::Workflow);
    same_query(ReconcileWorkflow::report, reconcile::Report);
    same_workflow(DelegationWorkflow::run, delegation::Workflow);
    same_update(DelegationWorkflow::set, delegation::Set);
    same_update(DelegationWorkflow::clear, delegation::Clear);
    same_query(DelegationWorkflow::delegations, delegation::Delegations);
    same_workflow(CatalogWorkflow::run, catalog::Workflow);
    same_workflow(UserLookupWorkflow::run, user_lookup::Workflow);
}
