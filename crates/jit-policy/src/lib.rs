//! The policy of jit: who may request what, who approves it and how, who may act for whom.
//!
//! People write one rules file (YAML); it is checked, compiled into a standard Casbin model
//! and policy, and every decision is a Casbin request whose matching policy line names the
//! rule that decided.
//!
//! - [`rules`]: the file's shape ([`Rules`]) and the checks that need only the file.
//! - [`compile`]: rules -> Casbin model ([`compile::MODEL`]) and policy lines.
//! - [`directory`]: who exists and who is in which group ([`Directory`], [`Person`]).
//! - [`policy`]: [`Policy`] — decisions ([`Verdict`]) with explanations, the checks that
//!   need the directory, the content hash recorded with every ticket.
//! - [`store`]: [`PolicyStore`], the policy in force, replaced only by a policy that passed.
//! - [`error`]: [`PolicyError`], `file:line: problem`.
//!
//! Invariant: nothing here does I/O except [`Policy::load`] reading the file it is given;
//! the directory is always passed in.

pub mod compile;
pub mod directory;
pub mod error;
pub mod policy;
pub mod rules;
pub mod store;

pub use directory::{Directory, Person};
pub use error::PolicyError;
pub use policy::{
    Explained, Policy, PrincipalRef, RequestDecision, TargetKey, Verdict, short_hash,
};
pub use rules::{PlanRule, Rules};
pub use store::PolicyStore;
