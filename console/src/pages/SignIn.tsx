import { useEffect, useState } from "react";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Alert from "@cloudscape-design/components/alert";
import Spinner from "@cloudscape-design/components/spinner";
import { devSignIn, oidcCallback, oidcSignIn, type ConsoleConfig } from "../auth";
import { go } from "../nav";

export function SignIn({ config }: { config: ConsoleConfig }) {
  const [user, setUser] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (config.sign_in === "dev") {
    const options = config.dev_users.map((u) => ({ label: u, value: u }));
    return (
      <Container header={<Header variant="h1" description="The local stack's dev sign-in: pick a seeded user. Production signs in with your identity provider.">Sign in</Header>}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (user) devSignIn(user);
          }}
        >
          <SpaceBetween size="m">
            <FormField label="User">
              <Select
                selectedOption={user ? { label: user, value: user } : null}
                onChange={(e) => setUser(e.detail.selectedOption.value ?? null)}
                options={options}
                placeholder="Choose a user"
                ariaLabel="User"
              />
            </FormField>
            <Button variant="primary" formAction="submit" disabled={!user}>
              Sign in
            </Button>
          </SpaceBetween>
        </form>
      </Container>
    );
  }
  return (
    <Container header={<Header variant="h1">Sign in</Header>}>
      <SpaceBetween size="m">
        {error && <Alert type="error">{error}</Alert>}
        <Button
          variant="primary"
          onClick={() => oidcSignIn(config, location.pathname === "/callback" ? "/tickets" : location.pathname).catch((e: Error) => setError(e.message))}
        >
          Sign in with {new URL(config.issuer).host}
        </Button>
      </SpaceBetween>
    </Container>
  );
}

export function Callback({ config }: { config: Extract<ConsoleConfig, { sign_in: "oidc" }> }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    oidcCallback(config).then((to) => go(to), (e: Error) => setError(e.message));
  }, [config]);
  if (error) {
    return (
      <Alert type="error" header="Sign-in failed" action={<Button onClick={() => go("/tickets")}>Try again</Button>}>
        {error}
      </Alert>
    );
  }
  return <Spinner size="large" />;
}
