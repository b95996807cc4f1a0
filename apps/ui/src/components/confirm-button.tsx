import { type ComponentChildren } from 'preact';
import { useRef } from 'preact/hooks';

/**
 * A button that asks before acting: it opens a modal dialog (focus moves into it, Escape closes
 * it) whose Confirm runs `onConfirm`.
 */
export function ConfirmButton(props: {
  label: string;
  question: ComponentChildren;
  onConfirm: () => void;
  disabled?: boolean;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button
        type="button"
        class={props.danger ? 'danger' : undefined}
        disabled={props.disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.label}>
        <form method="dialog">
          <p>{props.question}</p>
          <div class="row">
            <button value="cancel" type="submit">
              Back
            </button>
            <button
              value="confirm"
              type="submit"
              class={props.danger ? 'danger' : 'primary'}
              onClick={() => {
                props.onConfirm();
              }}
            >
              Confirm
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
