import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Store } from './store';

export const StoreContext = createContext<Store | null>(null);

/** The store, for components that render below one that subscribed (see `useStoreUpdates`). */
export function useStore(): Store {
  const store = useContext(StoreContext);
  if (!store) throw new Error('StoreContext is missing');
  return store;
}

/** The store, re-rendering the calling component (and so its subtree) on every change. */
export function useStoreUpdates(): Store {
  const store = useStore();
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), [store]);
  return store;
}

function currentRoute(): string | null {
  const match = /^#\/chat\/(.+)$/.exec(window.location.hash);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

/** The open chat, from the location hash (`#/chat/<id>`), so Back returns to the list. */
export function useChatRoute(): string | null {
  const [chatId, setChatId] = useState(currentRoute);
  useEffect(() => {
    const update = () => setChatId(currentRoute());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return chatId;
}

export function chatHref(chatId: string): string {
  return `#/chat/${encodeURIComponent(chatId)}`;
}

export function goToList(): void {
  if (window.location.hash) window.location.hash = '#/';
}
