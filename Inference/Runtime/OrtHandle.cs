using System.Runtime.InteropServices;

namespace Pipeline.Inference.Runtime;

/// <summary>An ONNX Runtime object released through its own <c>Release*</c> entry when the handle is disposed or collected.</summary>
internal sealed class OrtHandle : SafeHandle
{
    readonly int _releaseSlot;

    public OrtHandle(IntPtr handle, int releaseSlot) : base(IntPtr.Zero, ownsHandle: true)
    {
        _releaseSlot = releaseSlot;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        OrtApi.Release(_releaseSlot, handle);
        return true;
    }
}
