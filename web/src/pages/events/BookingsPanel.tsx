import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, messageOf } from '../../app/api.ts';
import { formatMoney, formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ConfirmDialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice, StatusBadge } from '../../ui/Feedback.tsx';
import { TextField } from '../../ui/Field.tsx';
import { Panel } from '../../ui/Page.tsx';
import { Pager, Table } from '../../ui/Table.tsx';
import type { BookingsAnswer, StaffBooking } from './types.ts';

const PAGE_SIZE = 20;

/** Bookings of the event, looked up by booking id or buyer (id or email); refund or cancel (sales:refund). */
export function BookingsPanel({ eventId }: { eventId: number }) {
  const { can } = useSession();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ booking: '', user: '' });
  const [filter, setFilter] = useState({ booking: '', user: '' });
  const [page, setPage] = useState(1);
  const [confirming, setConfirming] = useState<StaffBooking | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const bookingError =
    form.booking && !/^\d+$/.test(form.booking.trim()) ? 'A booking id is a number' : undefined;

  const list = useQuery({
    queryKey: ['admin-bookings', eventId, filter, page],
    queryFn: ({ signal }) =>
      api<BookingsAnswer>('/api/admin/bookings', {
        query: {
          event_id: eventId,
          booking_id: filter.booking || undefined,
          user: filter.user || undefined,
          page,
          pageSize: PAGE_SIZE,
        },
        signal,
      }),
    refetchInterval: 10_000,
  });

  const refund = useMutation({
    mutationFn: (booking: StaffBooking) =>
      api<{ result: string; status: string; booking_id: number }>(
        `/api/admin/bookings/${booking.id}/refund`,
        {
          method: 'POST',
        },
      ),
    onSuccess: (answer) => {
      setConfirming(null);
      const what =
        answer.result === 'refund_pending'
          ? 'refund asked for; the gateway has not answered yet (reconciliation completes it)'
          : answer.result;
      setDone(`Booking ${answer.booking_id}: ${what}.`);
      void queryClient.invalidateQueries({ queryKey: ['admin-bookings'] });
      void queryClient.invalidateQueries({ queryKey: ['admin-seat-map'] });
      void queryClient.invalidateQueries({ queryKey: ['admin-sales'] });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (bookingError) return;
    setPage(1);
    setDone(null);
    setFilter({ booking: form.booking.trim(), user: form.user.trim() });
  };
  const mayRefund = can('sales:refund');

  return (
    <Panel title="Bookings">
      <form className="form-row" onSubmit={submit} aria-label="Bookings lookup">
        <TextField
          label="Booking id"
          inputMode="numeric"
          value={form.booking}
          error={bookingError}
          onChange={(e) => setForm({ ...form, booking: e.target.value })}
        />
        <TextField
          label="Buyer (user id or email)"
          value={form.user}
          maxLength={254}
          onChange={(e) => setForm({ ...form, user: e.target.value })}
        />
        <button type="submit" className="primary">
          Look up
        </button>
      </form>
      {done ? <Notice tone="success">{done}</Notice> : null}
      <ErrorBanner error={list.error} />
      {list.isPending ? (
        <Loading />
      ) : (
        <>
          <Table<StaffBooking>
            caption="Bookings"
            rows={list.data?.bookings ?? []}
            rowKey={(b) => b.id}
            empty="No bookings match."
            columns={[
              { header: 'Booking', cell: (b) => <span className="mono">#{b.id}</span> },
              {
                header: 'Buyer',
                cell: (b) => (
                  <>
                    {b.buyer.email ?? '—'} <span className="events-meta">#{b.buyer.id}</span>
                  </>
                ),
              },
              { header: 'Status', cell: (b) => <StatusBadge status={b.status} /> },
              {
                header: 'Seats',
                cell: (b) =>
                  b.seats.length === 0
                    ? '—'
                    : b.seats.map((s) => `${s.zone} r${s.row} s${s.number} (#${s.id})`).join(', '),
              },
              {
                header: 'Payment',
                cell: (b) =>
                  b.payment ? (
                    <>
                      <StatusBadge status={b.payment.status} /> {formatMoney(b.payment.amount)}{' '}
                      {b.payment.currency}
                    </>
                  ) : (
                    '—'
                  ),
              },
              { header: 'Created', cell: (b) => formatTime(b.created_at) },
              ...(mayRefund
                ? [
                    {
                      header: 'Action',
                      cell: (b: StaffBooking) =>
                        b.action ? (
                          <button
                            type="button"
                            className="danger"
                            onClick={() => {
                              refund.reset();
                              setConfirming(b);
                            }}
                          >
                            {b.action === 'refund' ? 'Refund' : 'Cancel booking'}
                            <span className="visually-hidden"> {b.id}</span>
                          </button>
                        ) : null,
                    },
                  ]
                : []),
            ]}
          />
          <Pager page={page} hasNext={list.data?.has_more ?? false} onPage={setPage} />
        </>
      )}
      <ConfirmDialog
        open={confirming !== null}
        title={confirming?.action === 'refund' ? 'Refund this booking?' : 'Cancel this booking?'}
        message={
          confirming ? (
            <>
              <p>
                Booking #{confirming.id} of {confirming.buyer.email ?? `user ${confirming.buyer.id}`},{' '}
                {confirming.seats.length} seat(s).{' '}
                {confirming.action === 'refund'
                  ? 'The payment is given back through the gateway and the seats go back on sale.'
                  : 'The seats are freed at once; a payment in progress is given back.'}{' '}
                This cannot be undone.
              </p>
              {refund.error ? <p className="field-error">{messageOf(refund.error)}</p> : null}
            </>
          ) : null
        }
        confirmLabel={confirming?.action === 'refund' ? 'Refund' : 'Cancel booking'}
        danger
        busy={refund.isPending}
        onConfirm={() => confirming && refund.mutate(confirming)}
        onCancel={() => setConfirming(null)}
      />
    </Panel>
  );
}
