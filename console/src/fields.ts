// Which form field an API field path belongs to (fields.test.ts).

export type RequestFields = {
  account?: string;
  permissionSet?: string;
  bundle?: string;
  principal?: string;
  duration?: string;
  startTime?: string;
  justification?: string;
  /** Problems that belong to no field of the form. */
  other?: string;
};

/** Maps the API's field violations (and the form's own) onto the request form's fields. */
export function requestFields(errors: Record<string, string>): RequestFields {
  const out: RequestFields = {};
  const rest: string[] = [];
  for (const [path, problem] of Object.entries(errors)) {
    if (/^targets\[\d+\]\.account_id$/.test(path)) out.account = problem;
    else if (/^targets\[\d+\]\.permission_set$/.test(path)) out.permissionSet = problem;
    else if (path === "bundle") out.bundle = problem;
    else if (path.startsWith("principal")) out.principal = problem;
    else if (path === "duration") out.duration = problem;
    else if (path === "start_time") out.startTime = problem;
    else if (path === "justification") out.justification = problem;
    else rest.push(`${path}: ${problem}`);
  }
  if (rest.length) out.other = rest.join("; ");
  return out;
}
