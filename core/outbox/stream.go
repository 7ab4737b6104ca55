package outbox

import "context"

// streamPage is how many stored events a stream reads at a time.
const streamPage = 256

// Subscribe returns the events with a Seq above after, oldest first: the
// stored ones, then each new one as it is stored, for an event stream (the
// API's Server-Sent Events, whose id is the Seq: a client that reconnects
// with Last-Event-ID n subscribes after n; 0 is from the oldest kept). A
// reader that falls behind is not dropped: it reads from the store at its
// pace. The channel is closed when ctx ends, the outbox closes, or the store
// fails (the client resumes from its last Seq).
func (o *Outbox) Subscribe(ctx context.Context, after uint64) (<-chan Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	out := make(chan Event)
	o.wg.Add(1)
	go o.stream(ctx, after, out)
	return out, nil
}

// stream feeds a subscription.
func (o *Outbox) stream(ctx context.Context, after uint64, out chan<- Event) {
	defer o.wg.Done()
	defer close(out)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(o.ctx, cancel)
	defer stop()
	for {
		o.mu.Lock()
		changed := o.changed // taken before the read: a later store closes it
		o.mu.Unlock()
		evs, err := o.store.OutboxEvents(ctx, after, streamPage)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Error("an event stream could not read the outbox; it ends and its client resumes", "err", err)
			}
			return
		}
		for _, ev := range evs {
			select {
			case out <- ev:
				after = ev.Seq
			case <-ctx.Done():
				return
			}
		}
		if len(evs) == streamPage {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
