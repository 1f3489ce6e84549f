import { useEffect, useState } from "react";
import { useCollection } from "@cloudscape-design/collection-hooks";
import Box from "@cloudscape-design/components/box";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import Pagination from "@cloudscape-design/components/pagination";
import PropertyFilter from "@cloudscape-design/components/property-filter";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import type { TicketSummary } from "../gen/jit/v1/tickets_pb";
import { millis, relativeTime, statusLabel } from "../format";
import { linkTo } from "../nav";

export type Row = {
  id: string;
  status: string;
  indicator: ReturnType<typeof statusLabel>[1];
  requester: string;
  principal: string;
  accounts: string;
  permissionSets: string;
  requested: number;
  expires: number;
  pending: string;
};

export function toRow(t: TicketSummary): Row {
  const [status, indicator] = statusLabel(t.status);
  return {
    id: t.ticketId,
    status,
    indicator,
    requester: t.requester,
    principal: t.principal,
    accounts: t.accountIds.join(", "),
    permissionSets: t.permissionSets.join(", "),
    requested: millis(t.requestTime),
    expires: millis(t.expireTime),
    pending: t.pendingApprovers.join(", "),
  };
}

const PROPS = [
  { key: "id", propertyLabel: "Ticket", groupValuesLabel: "Tickets", operators: ["=", ":"] },
  { key: "status", propertyLabel: "Status", groupValuesLabel: "Statuses", operators: ["=", "!="] },
  { key: "requester", propertyLabel: "Requester", groupValuesLabel: "Requesters", operators: ["=", "!=", ":"] },
  { key: "principal", propertyLabel: "For", groupValuesLabel: "Principals", operators: ["=", "!=", ":"] },
  { key: "accounts", propertyLabel: "Account", groupValuesLabel: "Accounts", operators: [":", "="] },
  { key: "permissionSets", propertyLabel: "Permission set", groupValuesLabel: "Permission sets", operators: [":", "="] },
] as const;

export function TicketTable({
  title,
  description,
  rows,
  loading,
  actions,
  selection,
}: {
  title: string;
  description?: string;
  rows: Row[];
  loading: boolean;
  actions?: React.ReactNode;
  selection?: { selected: Row[]; onChange: (r: Row[]) => void };
}) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  const { items, collectionProps, propertyFilterProps, paginationProps, filteredItemsCount } = useCollection(rows, {
    propertyFiltering: {
      filteringProperties: PROPS.map((p) => ({ ...p, operators: [...p.operators] })),
      empty: <Box textAlign="center">No tickets</Box>,
      noMatch: <Box textAlign="center">No ticket matches the filter</Box>,
    },
    sorting: { defaultState: { sortingColumn: { sortingField: "requested" }, isDescending: true } },
    pagination: { pageSize: 25 },
  });
  return (
    <Table
      {...collectionProps}
      loading={loading}
      loadingText="Loading tickets"
      items={items}
      trackBy="id"
      variant="full-page"
      stickyHeader
      selectionType={selection ? "single" : undefined}
      selectedItems={selection?.selected}
      onSelectionChange={selection ? (e) => selection.onChange(e.detail.selectedItems) : undefined}
      ariaLabels={{
        tableLabel: title,
        selectionGroupLabel: "Tickets",
        itemSelectionLabel: (_, r) => `ticket ${r.id}`,
        allItemsSelectionLabel: () => "all tickets",
      }}
      header={
        <Header variant="awsui-h1-sticky" counter={`(${filteredItemsCount ?? rows.length})`} description={description} actions={actions}>
          {title}
        </Header>
      }
      filter={<PropertyFilter {...propertyFilterProps} i18nStrings={FILTER_STRINGS} countText={`${filteredItemsCount ?? 0} matches`} expandToViewport />}
      pagination={<Pagination {...paginationProps} ariaLabels={{ nextPageLabel: "Next page", previousPageLabel: "Previous page", pageLabel: (n) => `Page ${n}` }} />}
      columnDefinitions={[
        { id: "id", header: "Ticket", cell: (r) => <Link {...linkTo({ page: "ticket", id: r.id })}>{r.id}</Link>, sortingField: "id", isRowHeader: true },
        { id: "status", header: "Status", cell: (r) => <StatusIndicator type={r.indicator}>{r.status}</StatusIndicator>, sortingField: "status" },
        { id: "principal", header: "For", cell: (r) => r.principal, sortingField: "principal" },
        { id: "requester", header: "Requested by", cell: (r) => r.requester, sortingField: "requester" },
        { id: "targets", header: "Access", cell: (r) => `${r.permissionSets} in ${r.accounts}` },
        { id: "requested", header: "Requested", cell: (r) => (r.requested ? <span title={new Date(r.requested).toISOString()}>{relativeTime(r.requested, now)}</span> : "—"), sortingField: "requested" },
        { id: "expires", header: "Expires", cell: (r) => (r.expires ? <span title={new Date(r.expires).toISOString()}>{relativeTime(r.expires, now)}</span> : "—"), sortingField: "expires" },
        { id: "pending", header: "Waiting for", cell: (r) => r.pending || "—" },
      ]}
    />
  );
}

const FILTER_STRINGS = {
  filteringAriaLabel: "Filter tickets",
  filteringPlaceholder: "Filter tickets by status, account, permission set, person",
  dismissAriaLabel: "Dismiss",
  groupValuesText: "Values",
  groupPropertiesText: "Properties",
  operatorsText: "Operators",
  operationAndText: "and",
  operationOrText: "or",
  operatorLessText: "Less than",
  operatorLessOrEqualText: "Less than or equal",
  operatorGreaterText: "Greater than",
  operatorGreaterOrEqualText: "Greater than or equal",
  operatorContainsText: "Contains",
  operatorDoesNotContainText: "Does not contain",
  operatorEqualsText: "Equals",
  operatorDoesNotEqualText: "Does not equal",
  editTokenHeader: "Edit filter",
  propertyText: "Property",
  operatorText: "Operator",
  valueText: "Value",
  cancelActionText: "Cancel",
  applyActionText: "Apply",
  allPropertiesLabel: "All properties",
  tokenLimitShowMore: "Show more",
  tokenLimitShowFewer: "Show fewer",
  clearFiltersText: "Clear filters",
  removeTokenButtonAriaLabel: () => "Remove filter",
  enteredTextLabel: (t: string) => `Use: "${t}"`,
};
