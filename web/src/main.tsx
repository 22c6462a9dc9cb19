import { render } from 'preact';
import { useState } from 'preact/hooks';
import { App } from './components/App';
import { goToList, StoreContext } from './hooks';
import { Store } from './store';
import './styles.css';

/** One store per session: signing out swaps in a fresh one, so nothing of the last user stays. */
function Root() {
  const [store, setStore] = useState(() => newStore());

  function newStore(reason?: string): Store {
    const next = new Store((why) => {
      goToList();
      setStore(newStore(why));
    });
    if (reason) next.showNotice(reason, 'info');
    next.start();
    return next;
  }

  return (
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>
  );
}

const root = document.getElementById('app');
if (root) render(<Root />, root);
