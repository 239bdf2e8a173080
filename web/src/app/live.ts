import { useEffect, useState } from 'react';

/**
 * The latest `event` of a server-sent event stream (EventSource reconnects by itself; the cookie goes
 * with it, same-origin). `connected` is false while it is (re)connecting, so a screen can say so.
 */
export function useEventStream<T>(
  url: string | undefined,
  event: string,
): { data: T | undefined; connected: boolean } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!url) return;
    setData(undefined);
    const source = new EventSource(url, { withCredentials: true });
    const onMessage = (message: MessageEvent<string>) => {
      setConnected(true);
      setData(JSON.parse(message.data) as T);
    };
    source.addEventListener(event, onMessage as EventListener);
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    return () => source.close();
  }, [url, event]);
  return { data, connected };
}
