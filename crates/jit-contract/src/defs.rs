//! The macros that declare definitions: one line each, the wire name written once.

/// A workflow type: `workflow!(Name = "WireName", Input => Output);`
macro_rules! workflow {
    ($(#[$m:meta])* $name:ident = $wire:literal, $input:ty => $output:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;
        impl $name {
            /// The workflow type name.
            pub const NAME: &'static str = $wire;
        }
        impl temporalio_common::WorkflowDefinition for $name {
            type Input = $input;
            type Output = $output;
            fn name(&self) -> &str {
                Self::NAME
            }
        }
        impl temporalio_common::HasWorkflowDefinition for $name {
            type Run = Self;
        }
    };
}

/// An update of workflow `W`: `update!(Name on W = "wire", Input => Output);`
macro_rules! update {
    ($(#[$m:meta])* $name:ident on $wf:ty = $wire:literal, $input:ty => $output:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;
        impl $name {
            /// The update name.
            pub const NAME: &'static str = $wire;
        }
        impl temporalio_common::UpdateDefinition for $name {
            type Workflow = $wf;
            type Input = $input;
            type Output = $output;
            fn name(&self) -> &str {
                Self::NAME
            }
        }
    };
}

/// A signal of workflow `W`: `signal!(Name on W = "wire", Input);`
macro_rules! signal {
    ($(#[$m:meta])* $name:ident on $wf:ty = $wire:literal, $input:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;
        impl $name {
            /// The signal name.
            pub const NAME: &'static str = $wire;
        }
        impl temporalio_common::SignalDefinition for $name {
            type Workflow = $wf;
            type Input = $input;
            fn name(&self) -> &str {
                Self::NAME
            }
        }
    };
}

/// A query of workflow `W`: `query!(Name on W = "wire", Output);` (queries take no input).
macro_rules! query {
    ($(#[$m:meta])* $name:ident on $wf:ty = $wire:literal, $output:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;
        impl $name {
            /// The query name.
            pub const NAME: &'static str = $wire;
        }
        impl temporalio_common::QueryDefinition for $name {
            type Workflow = $wf;
            type Input = ();
            type Output = $output;
            fn name(&self) -> &str {
                Self::NAME
            }
        }
    };
}

/// An activity: `activity!(Name = "wire", Input => Output);`
macro_rules! activity {
    ($(#[$m:meta])* $name:ident = $wire:literal, $input:ty => $output:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;
        impl $name {
            /// The activity type name.
            pub const NAME: &'static str = $wire;
        }
        impl temporalio_common::ActivityDefinition for $name {
            type Input = $input;
            type Output = $output;
            fn name(&self) -> &str {
                Self::NAME
            }
        }
    };
}
